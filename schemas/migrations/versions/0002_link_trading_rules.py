"""Link trading rules: side, reverse, pyramiding, risk sizing and limits, product, paper fills,
bad-tick band, end-of-day policy, per-order fee, breaker reset.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def columns() -> list[sa.Column]:
    return [
        sa.Column("side", sa.String(5), nullable=False, server_default="both"),
        sa.Column("reverse", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reverse_on_sl", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("max_entries", sa.Integer, nullable=False, server_default="1"),
        sa.Column("risk_pct", sa.String(20)),
        sa.Column("capital_paise", sa.BigInteger),
        sa.Column("max_open", sa.Integer),
        sa.Column("daily_loss_paise", sa.BigInteger),
        sa.Column("product", sa.String(10), nullable=False, server_default="auto"),
        sa.Column("paper_fill", sa.String(20), nullable=False, server_default="full"),
        sa.Column("tick_band_pct", sa.String(20)),
        sa.Column("eod", sa.String(15), nullable=False, server_default="close-losers"),
        sa.Column("fee_paise", sa.Integer, nullable=False, server_default="0"),
        sa.Column("breaker_reset_at_ms", sa.BigInteger),
    ]


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        for column in columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        for column in columns():
            batch.drop_column(column.name)
