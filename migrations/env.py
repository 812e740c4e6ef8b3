"""Alembic environment: callsync runs migrations programmatically (``callsync db upgrade``).

The caller passes an open connection in ``config.attributes["connection"]``; for the plain
``alembic`` command line, ``sqlalchemy.url`` in the Alembic config is used instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from syncer.store.tables import Base

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///callsync.db")
    with engine.begin() as conn:
        _run(conn)


run_migrations()
