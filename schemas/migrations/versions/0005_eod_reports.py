"""The end-of-day report: one row per live position swept, per IST trading day.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eod_reports",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("position_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("link_id", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(60)), sa.Column("expiry", sa.String(12)),
        sa.Column("strike", sa.String(20)), sa.Column("side", sa.String(5)),
        sa.Column("quantity", sa.Integer), sa.Column("entry", sa.String(30)),
        sa.Column("last_paise", sa.BigInteger), sa.Column("pnl_paise", sa.BigInteger),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("eod_reports")
