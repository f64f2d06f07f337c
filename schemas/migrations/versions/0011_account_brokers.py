"""Accounts name their broker (smartapi, kite); a Kite account keeps the day's access token,
encrypted, once its owner has logged in.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("broker", sa.String(16), nullable=False,
                                        server_default="smartapi"))
    op.add_column("accounts", sa.Column("session", sa.Text))


def downgrade() -> None:
    op.drop_column("accounts", "session")
    op.drop_column("accounts", "broker")
