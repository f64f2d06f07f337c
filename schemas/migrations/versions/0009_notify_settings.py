"""Notifications: each user's Telegram bot token and chat id (encrypted), and whether ignored
alerts are sent too.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_settings",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("telegram", sa.Text, nullable=False),
        sa.Column("alert_ignored", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notify_settings")
