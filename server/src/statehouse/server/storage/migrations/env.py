"""Alembic environment: runs on the connection the Store hands over."""

from __future__ import annotations

from alembic import context

from statehouse.server.storage.schema import metadata

connection = context.config.attributes["connection"]


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """The event log's partitions (PostgreSQL) are not tables of the metadata."""
    return not (type_ == "table" and name is not None and name.startswith("events_"))


context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=_include_name,
)
with context.begin_transaction():
    context.run_migrations()
