"""Baseline: the tables as they were before migrations existed.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("strategy", sa.String(100), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("sl_pct", sa.String(20)), sa.Column("target_pct", sa.String(20)),
        sa.Column("trail_pct", sa.String(20)), sa.Column("trail_activation_pct", sa.String(20)),
        sa.Column("slippage_bps", sa.Integer, nullable=False),
        sa.Column("paper", sa.Boolean, nullable=False),
        sa.Column("account_id", sa.String(32)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("client_code", sa.String(40), nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bot_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("running", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("link_id", sa.String(32), nullable=False, index=True),
        sa.Column("received_at_ms", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(20)), sa.Column("symbol", sa.String(60)),
        sa.Column("exchange", sa.String(10)), sa.Column("token", sa.String(20)),
        sa.Column("strategy", sa.String(100)), sa.Column("quantity", sa.Integer),
        sa.Column("price_paise", sa.BigInteger), sa.Column("payload", sa.JSON),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text), sa.Column("position_id", sa.String(32)),
    )
    op.create_table(
        "webhook_rejections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("link_id", sa.String(32)),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("client", sa.String(64)),
    )
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(20), primary_key=True),
        sa.Column("position_id", sa.String(32), nullable=False, index=True),
        sa.Column("link_id", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(10), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("token", sa.String(20)), sa.Column("symbol", sa.String(60)),
        sa.Column("exchange", sa.String(10)), sa.Column("paper", sa.Boolean),
        sa.Column("order_type", sa.String(20)),
        sa.Column("reference_price_paise", sa.BigInteger), sa.Column("reason", sa.String(40)),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled_qty", sa.Integer, nullable=False),
        sa.Column("text", sa.Text),
    )
    op.create_table(
        "fills",
        sa.Column("fill_id", sa.String(32), primary_key=True),
        sa.Column("client_order_id", sa.String(20), nullable=False, index=True),
        sa.Column("position_id", sa.String(32), nullable=False, index=True),
        sa.Column("side", sa.String(4)), sa.Column("status", sa.String(10), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price_paise", sa.BigInteger, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("broker_order_id", sa.String(40)), sa.Column("text", sa.Text),
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("link_id", sa.String(32), nullable=False, index=True),
        sa.Column("token", sa.String(20), nullable=False), sa.Column("symbol", sa.String(60)),
        sa.Column("exchange", sa.String(10)), sa.Column("side", sa.String(5), nullable=False),
        sa.Column("state", sa.String(10), nullable=False, index=True),
        sa.Column("quantity", sa.Integer), sa.Column("entry_qty", sa.Integer),
        sa.Column("entry_value_paise", sa.BigInteger),
        sa.Column("exit_qty", sa.Integer), sa.Column("exit_value_paise", sa.BigInteger),
        sa.Column("best_paise", sa.BigInteger), sa.Column("stop", sa.String(60)),
        sa.Column("target", sa.String(60)),
        sa.Column("exit_reason", sa.String(10)), sa.Column("exit_trigger_paise", sa.BigInteger),
        sa.Column("exit_gap", sa.String(60)), sa.Column("realized_pnl_paise", sa.BigInteger),
        sa.Column("created_at_ms", sa.BigInteger), sa.Column("closed_at_ms", sa.BigInteger),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("snapshot", sa.JSON, nullable=False),
    )
    op.create_index("ix_positions_token_state", "positions", ["token", "state"])
    op.create_table(
        "position_events",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("position_id", sa.String(32), index=True),
        sa.Column("link_id", sa.String(32)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(10)), sa.Column("reason", sa.Text),
    )
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("restored", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    for table in ("reconciliations", "position_events", "positions", "fills", "orders",
                  "webhook_rejections", "alerts", "bot_state", "accounts", "links"):
        op.drop_table(table)
