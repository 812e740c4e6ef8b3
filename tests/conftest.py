"""Shared fixtures. Every database test runs on each backend in ``CALLSYNC_TEST_BACKENDS``
(default: both SQLite and PostgreSQL).

PostgreSQL: the suite creates its own database on the server named by ``CALLSYNC_TEST_PG_URL``
and drops it at the end. When no server answers, the PostgreSQL tests skip, except in CI
(``CI=true``), where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from syncer import stopping
from syncer.store import database

BACKENDS = [
    b.strip()
    for b in os.environ.get("CALLSYNC_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if b.strip()
]
PG_URL = os.environ.get(
    "CALLSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _backend_params() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.postgres) if name == "postgresql" else name
        for name in BACKENDS
    ]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server for this test session."""
    admin_url = sa.make_url(PG_URL)
    name = f"callsync_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            # A throw-away database: commits need not wait for the disk (every write of the
            # push engine commits, and fsync dominated the PostgreSQL run).
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires PostgreSQL at {admin_url.render_as_string()}: {exc}")
        pytest.skip("no PostgreSQL server answering; PostgreSQL tests skipped")
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=_backend_params())
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database on one backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'callsync.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine on a database upgraded to the newest schema."""
    engine = database.create_engine(database_url)
    database.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def no_stop_requested() -> Iterator[None]:
    """The process-wide stop flag (``syncer/stopping.py``) starts and ends every test clear."""
    stopping.FLAG.clear()
    yield
    stopping.FLAG.clear()
