"""Links may keep a broker-side stop/target rule (GTT) beside pinewire's own exits.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("links", sa.Column("broker_stop", sa.String(8), nullable=False,
                                     server_default="none"))


def downgrade() -> None:
    op.drop_column("links", "broker_stop")
