"""Users: accounts of people, their API tokens and bot switches; every link, broker account and
ledger row belongs to a user. Rows from before users existed get the first user when one is
created (webapp/users.py); link and account names are unique per user.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OWNED = ("links", "accounts", "alerts", "orders", "positions", "position_events",
         "webhook_rejections", "eod_reports")
UNIQUE_NAME = {"sqlite": "uq_%(table)s_name", "postgresql": "%(table)s_name_key"}
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("password_changed_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("last_used_at_ms", sa.BigInteger),
        sa.Column("revoked_at_ms", sa.BigInteger),
    )
    op.create_table(
        "user_bots",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("running", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for table in OWNED:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            batch.add_column(sa.Column("user_id", sa.String(32)))
            batch.create_index(f"ix_{table}_user_id", ["user_id"])
            if table in ("links", "accounts"):
                batch.drop_constraint(UNIQUE_NAME[dialect] % {"table": table}, type_="unique")
                batch.create_unique_constraint(f"uq_{table}_user_name", ["user_id", "name"])


def downgrade() -> None:
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            if table in ("links", "accounts"):
                batch.drop_constraint(f"uq_{table}_user_name", type_="unique")
                batch.create_unique_constraint(f"uq_{table}_name", ["name"])
            batch.drop_index(f"ix_{table}_user_id")
            batch.drop_column("user_id")
    for table in ("user_bots", "api_tokens", "users"):
        op.drop_table(table)
