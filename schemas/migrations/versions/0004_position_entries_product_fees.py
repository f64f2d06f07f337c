"""Positions: account, the position a reverse came from, entries, product, fees; orders: product.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

def position_columns() -> list[sa.Column]:
    return [sa.Column("account_id", sa.String(32)), sa.Column("reverse_of", sa.String(32)),
            sa.Column("entries", sa.Integer), sa.Column("product_type", sa.String(12)),
            sa.Column("fees_paise", sa.BigInteger)]


def upgrade() -> None:
    with op.batch_alter_table("positions") as batch:
        for column in position_columns():
            batch.add_column(column)
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("product_type", sa.String(12)))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("product_type")
    with op.batch_alter_table("positions") as batch:
        for column in position_columns():
            batch.drop_column(column.name)
