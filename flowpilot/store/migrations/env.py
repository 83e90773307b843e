"""Alembic environment: migrations run on the connection handed over by flowpilot.store.migrate."""

from __future__ import annotations

from alembic import context

from flowpilot.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
