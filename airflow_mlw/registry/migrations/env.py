"""Alembic environment of the workspace registry; run through RegistryStore, never standalone."""

from __future__ import annotations

from alembic import context

from airflow_mlw.registry.rows import Base
from airflow_mlw.registry.store import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
