"""Each call to a broker's API, so that its rate limits hold across processes and restarts.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("broker_calls",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("broker", sa.String(16), nullable=False),
                    sa.Column("client", sa.String(40), nullable=False),
                    sa.Column("kind", sa.String(16), nullable=False),
                    sa.Column("at_ms", sa.BigInteger, nullable=False))
    op.create_index("ix_broker_calls_key", "broker_calls",
                    ["broker", "client", "kind", "at_ms"])


def downgrade() -> None:
    op.drop_index("ix_broker_calls_key", "broker_calls")
    op.drop_table("broker_calls")
