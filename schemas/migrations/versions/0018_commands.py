"""A trader's commands on positions (close, close all, adjust) and their owners' answers.

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("commands",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("kind", sa.String(16), nullable=False),
                    sa.Column("position_id", sa.String(32)),
                    sa.Column("scope", sa.Text), sa.Column("levels", sa.Text),
                    sa.Column("origin", sa.String(16), nullable=False),
                    sa.Column("actor", sa.String(64), nullable=False),
                    sa.Column("at_ms", sa.BigInteger, nullable=False),
                    sa.Column("answers", sa.Integer, nullable=False),
                    sa.Column("user_id", sa.String(32)))
    op.create_index("ix_commands_user_id", "commands", ["user_id"])
    op.create_table("command_results",
                    sa.Column("command_id", sa.String(32), primary_key=True),
                    sa.Column("partition", sa.Integer, primary_key=True),
                    sa.Column("at_ms", sa.BigInteger, nullable=False),
                    sa.Column("outcome", sa.String(12), nullable=False),
                    sa.Column("reason", sa.Text), sa.Column("detail", sa.Text),
                    sa.Column("user_id", sa.String(32)))
    op.create_index("ix_command_results_user_id", "command_results", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_command_results_user_id", "command_results")
    op.drop_table("command_results")
    op.drop_index("ix_commands_user_id", "commands")
    op.drop_table("commands")
