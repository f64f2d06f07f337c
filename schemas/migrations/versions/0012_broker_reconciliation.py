"""Startup reconciliation with the brokers: its reports beside the ledger restores, per
account and user; exit reasons up to 16 characters (RECONCILED, BROKER_STOP).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reconciliations", sa.Column("kind", sa.String(10), nullable=False,
                                               server_default="restore"))
    op.add_column("reconciliations", sa.Column("account_id", sa.String(32)))
    op.add_column("reconciliations", sa.Column("user_id", sa.String(32)))
    op.add_column("reconciliations", sa.Column("closed", sa.Integer))
    op.add_column("reconciliations", sa.Column("reported", sa.Integer))
    op.create_index("ix_reconciliations_user_id", "reconciliations", ["user_id"])
    with op.batch_alter_table("positions") as batch:
        batch.alter_column("exit_reason", type_=sa.String(16), existing_type=sa.String(10))


def downgrade() -> None:
    with op.batch_alter_table("positions") as batch:
        batch.alter_column("exit_reason", type_=sa.String(10), existing_type=sa.String(16))
    op.drop_index("ix_reconciliations_user_id", "reconciliations")
    for column in ("reported", "closed", "user_id", "account_id", "kind"):
        op.drop_column("reconciliations", column)
