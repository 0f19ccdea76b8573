"""Alembic environment: run by readmodel.db.migrate with a connection (or a URL) in the config."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from readmodel.models import metadata

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
