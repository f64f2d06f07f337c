"""A new install's first user needs the one-time setup code `pinewire up` prints; signing out
ends every session of the user on the server.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("sessions_ended_at_ms", sa.BigInteger))
    op.create_table("setup_codes",
                    sa.Column("code_hash", sa.String(64), primary_key=True),
                    sa.Column("created_at_ms", sa.BigInteger, nullable=False))


def downgrade() -> None:
    op.drop_table("setup_codes")
    op.drop_column("users", "sessions_ended_at_ms")
