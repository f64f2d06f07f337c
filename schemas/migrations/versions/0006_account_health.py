"""Account health: the last login problem the workers reported (NULL when logged in fine).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("health", sa.Text))
        batch.add_column(sa.Column("health_at_ms", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("health_at_ms")
        batch.drop_column("health")
