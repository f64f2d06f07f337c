"""A position event keeps the position's levels at that moment — its stop, target and the best
price its trailing stop follows — for the position's chart.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("position_events") as batch:
        batch.add_column(sa.Column("stop", sa.String(60)))
        batch.add_column(sa.Column("target", sa.String(60)))
        batch.add_column(sa.Column("best_paise", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("position_events") as batch:
        batch.drop_column("best_paise")
        batch.drop_column("target")
        batch.drop_column("stop")
