"""Account-level risk limits across its links, and a version the workers follow.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def columns() -> list[sa.Column]:
    return [
        sa.Column("max_open", sa.Integer),
        sa.Column("daily_loss_paise", sa.BigInteger),
        sa.Column("breaker_reset_at_ms", sa.BigInteger),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for column in columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for column in columns():
            batch.drop_column(column.name)
