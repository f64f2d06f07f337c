"""Webhook tokens at rest: sealed (Fernet, with a key derived from the session secret) beside
their SHA-256, never in clear. Existing tokens are sealed here and the clear column dropped;
their URLs keep working.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

links = sa.table("links", sa.column("id", sa.String), sa.column("token", sa.String),
                 sa.column("token_sealed", sa.Text))


def _fernet() -> Fernet:
    """The key of the processes that open the tokens: their settings, their data dir."""
    from schemas.settings import Settings, webhook_token_key
    return Fernet(webhook_token_key(Settings()))


def _convert(source, target, change) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(links.c.id, source)).all()
    fernet = _fernet() if rows else None
    for link_id, value in rows:
        conn.execute(links.update().where(links.c.id == link_id).values(
            {target: change(fernet, value)}))


def upgrade() -> None:
    op.add_column("links", sa.Column("token_sealed", sa.Text))
    _convert(links.c.token, "token_sealed", lambda f, token: f.encrypt(token.encode()).decode())
    with op.batch_alter_table("links") as batch:
        batch.alter_column("token_sealed", existing_type=sa.Text, nullable=False)
        batch.drop_column("token")


def downgrade() -> None:
    op.add_column("links", sa.Column("token", sa.String(64)))
    _convert(links.c.token_sealed, "token", lambda f, sealed: f.decrypt(sealed.encode()).decode())
    with op.batch_alter_table("links") as batch:
        batch.alter_column("token", existing_type=sa.String(64), nullable=False)
        batch.drop_column("token_sealed")
