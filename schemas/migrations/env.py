"""Alembic environment: the connection comes from schemas.sql.upgrade (never from an ini file)."""
from alembic import context

from schemas.sql import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
