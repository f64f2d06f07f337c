"""Signal sources: a link's kind (tradingview | chartink), a chartink link's action, an entry
window; the source of each alert.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("kind", sa.String(12), nullable=False,
                                   server_default="tradingview"))
        batch.add_column(sa.Column("scan_action", sa.String(4)))
        batch.add_column(sa.Column("entry_window", sa.String(11)))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("source", sa.String(60), nullable=False,
                                   server_default="tradingview"))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("source")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("entry_window")
        batch.drop_column("scan_action")
        batch.drop_column("kind")
