"""Alembic's environment for the run store: always online, on the connection mnist_core.store.migrate hands in."""

from alembic import context

from mnist_core.store.schema import METADATA, VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the run store's migrations run through mnist_core.store.migrate, on an open connection")
context.configure(connection=connection, target_metadata=METADATA, version_table=VERSION_TABLE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
