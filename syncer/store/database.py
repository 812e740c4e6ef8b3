"""Opening the database: engine set-up per backend and schema upgrades through Alembic.

SQLite is the embedded default; PostgreSQL is the production backend. On SQLite the driver's
implicit transactions are replaced by explicit ``BEGIN IMMEDIATE`` so every transaction really is
one (SQLAlchemy's documented recipe), with WAL, a busy timeout and foreign keys on. The database
file is created with mode 0600 (it holds OAuth tokens); its directory must already exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from syncer.errors import DatabaseError
from syncer.resources import migrations_dir
from syncer.store import runs
from syncer.store.url import check_sqlite_path, check_url, sqlite_file


def _create_sqlite_file(path: Path, shown: str) -> None:
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise DatabaseError(shown, f"cannot create {path}: {exc.strerror}") from None


def _report_plainly(engine: Engine, shown: str) -> None:
    """Every driver error of ``engine`` becomes a :class:`DatabaseError`: one line with the
    URL and the driver's reason. SQLAlchemy's own message appends the SQL and its parameters,
    which are call data and must not reach a terminal or a log."""

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        if context.is_pre_ping or not isinstance(context.sqlalchemy_exception, sa.exc.DBAPIError):
            return  # a failed pre-ping is retried by the pool; non-driver errors are bugs
        original = context.original_exception
        lines = str(original).strip().splitlines()
        # The first line is the reason; later ones (psycopg's DETAIL) may quote row values.
        reason = lines[0] if lines else type(original).__name__
        raise DatabaseError(shown, reason) from original


WAL_CHECKPOINT_PAGES = 10_000


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint (WAL -> database, with an fsync) every 10,000 pages (40 MB of WAL)
        # rather than SQLite's 1,000: a pull's pages rewrite the same index pages, copied once
        # per checkpoint, and each checkpoint waits for an fsync. Replaying a Close pull's rows
        # (100 per transaction): commit CPU ~52 -> ~34 us per call; the whole pull: its wall
        # ~20 % shorter, its CPU within noise. Durability is unchanged.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings callsync relies on for each backend; a URL
    callsync cannot use raises :class:`DatabaseUrlError`, a driver error on the engine raises
    :class:`DatabaseError` (see :func:`_report_plainly`)."""
    parsed = check_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        check_sqlite_path(parsed)
        path = sqlite_file(parsed)
        if path is not None:
            _create_sqlite_file(path, shown)
        engine = sa.create_engine(parsed)
        _configure_sqlite(engine)
    else:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    _report_plainly(engine, shown)
    return engine


_MIGRATION_LOCK = 0x63616C6C73796E63  # "callsync": the advisory lock key of schema upgrades


def _alembic_config(conn: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = conn
    return config


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the schema to ``revision``; returns the revision the database is at afterwards."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several processes starting at once on a fresh database would each create the
            # tables; one lock per database serialises them (SQLite's BEGIN IMMEDIATE does so).
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        command.upgrade(_alembic_config(conn), revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir()))
    return ScriptDirectory.from_config(config).get_current_head()


@contextmanager
def durable_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction whose commit survives power loss before the caller goes on: the ledger
    records an intent this way before a create leaves the machine. SQLite in WAL mode with
    ``synchronous=NORMAL`` (the default here, cheap for pulls, whose pages are re-read after a
    loss anyway) may lose the last commits on power loss, so this one runs with ``FULL``;
    PostgreSQL commits are durable already (``synchronous_commit`` on)."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA synchronous=FULL")
        try:
            with conn.begin():
                yield conn
        finally:
            if raw is not None:
                raw.execute("PRAGMA synchronous=NORMAL")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One database transaction: committed on success, rolled back on any error."""
    with engine.begin() as conn:
        yield conn


def open_migrated(url: str) -> Engine:
    """The store at ``url``, migrated, with runs left ``running`` by dead processes closed as
    ``died``: what every command that uses the store starts with."""
    engine = create_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            runs.close_dead(conn)
    except BaseException:
        engine.dispose()
        raise
    return engine
