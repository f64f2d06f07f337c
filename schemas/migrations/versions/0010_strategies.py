"""Strategies: named universes of instruments, and a strategy attached to a link.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "universes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("symbols", sa.JSON, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(32), index=True),
        sa.UniqueConstraint("user_id", "name", name="uq_universes_user_name"),
    )
    op.create_table(
        "strategy_attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("link_id", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("timeframe", sa.String(4), nullable=False),
        sa.Column("symbols", sa.JSON, nullable=False),
        sa.Column("universe", sa.String(100)),
        sa.Column("tokens", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(32), index=True),
    )


def downgrade() -> None:
    op.drop_table("strategy_attachments")
    op.drop_table("universes")
