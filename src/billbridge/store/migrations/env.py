"""Alembic environment: billbridge runs migrations itself, on the connection it opened."""

from __future__ import annotations

from alembic import context

from billbridge.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` run by hand gets here
    raise RuntimeError("billbridge applies its migrations itself: open the store with Store(url)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
