"""Links open only the sides they name: a new link trades long unless told short or both, and
opens a short option only with option_shorts on. Existing links keep the side they have.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("links", sa.Column("option_shorts", sa.Boolean, nullable=False,
                                     server_default=sa.false()))
    with op.batch_alter_table("links") as batch:
        batch.alter_column("side", existing_type=sa.String(5), existing_nullable=False,
                           server_default="long")


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.alter_column("side", existing_type=sa.String(5), existing_nullable=False,
                           server_default="both")
    op.drop_column("links", "option_shorts")
