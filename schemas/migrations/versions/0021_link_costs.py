"""A link's charges table plan (agents/costs.py): the brokerage, STT, exchange charges, GST,
SEBI fee and stamp duty each of its filled orders is charged with; "none" keeps the link's fee
per order alone, as before.

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("costs", sa.String(12), nullable=False,
                                   server_default="none"))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("costs")
