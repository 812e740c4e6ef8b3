"""Database URLs: which ones callsync accepts, and how one is shown in a message.

A URL is checked in two steps. :func:`check_url` needs nothing but the text (the config check
runs it, so a bad ``database.url`` is reported with its file and line like any other config
error); :func:`check_sqlite_path` looks at the file system when a command is about to open the
database. Every message names the URL with its password masked.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from syncer.errors import DatabaseUrlError

# The store's upserts and leases are written for these two (syncer/store/upsert.py).
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
EXAMPLES = "sqlite:///callsync.db or postgresql+psycopg://user@host/dbname"
_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")


def shown(text: str) -> str:
    """``text`` safe to print: the password replaced by ``***``, even in a URL that does not
    parse (a typo elsewhere in it must not leak the password)."""
    try:
        return sa.make_url(text).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1***@", text)


def check_url(text: str) -> sa.URL:
    """The parsed URL; :class:`DatabaseUrlError` when it is not one callsync can open."""
    try:
        url = sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        raise DatabaseUrlError(shown(text), f"not a database URL (expected {EXAMPLES})") from None
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        reason = f"unsupported database {backend!r}: callsync runs on {EXAMPLES}"
        raise DatabaseUrlError(shown(text), reason)
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except sa.exc.NoSuchModuleError:
        raise DatabaseUrlError(shown(text), f"unknown driver {url.drivername!r}") from None
    except ImportError as exc:
        reason = f"driver {url.drivername!r} is not installed (no module {exc.name!r})"
        raise DatabaseUrlError(shown(text), reason) from None
    if dialect.is_async:
        reason = f"driver {url.drivername!r} is asynchronous; callsync needs {EXAMPLES}"
        raise DatabaseUrlError(shown(text), reason)
    return url


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory or ``file:`` URI database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def check_sqlite_path(url: sa.URL) -> None:
    """A SQLite file must be a file in a directory that exists: a typo in the path is an
    error, not a new empty database somewhere unexpected."""
    path = sqlite_file(url)
    if path is None:
        return
    text = url.render_as_string(hide_password=True)
    if path.is_dir():
        raise DatabaseUrlError(text, f"{path} is a directory, not a database file")
    if not path.parent.is_dir():
        reason = f"the directory {path.parent} does not exist (callsync does not create it)"
        raise DatabaseUrlError(text, reason)
