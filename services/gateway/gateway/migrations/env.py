"""Alembic environment: the connection comes from `gateway.migrations.upgrade`, which reads our Settings; the
target metadata is the gateway's own tables, compared as the drift test compares them."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from gateway.migrations import target_metadata
from shared.migrations import COMPARE_OPTIONS

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the gateway's migrations through gateway.migrations.upgrade(engine)")

context.configure(connection=connection, target_metadata=target_metadata(),
                  render_as_batch=connection.dialect.name == "sqlite", **COMPARE_OPTIONS)
with context.begin_transaction():
    context.run_migrations()
