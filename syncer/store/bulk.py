"""Many rows through the driver: a statement compiled once per dialect, values converted once.

``conn.execute(stmt, rows)`` passes every value of every row through its column type's bind
processor (a :class:`UtcDateTime` per timestamp, ``json.dumps`` per JSON column) and rebuilds
the parameters row by row: about as much CPU as the rest of a pull's storing. The tables a
pull writes per record (calls and source records) therefore go through :func:`execute_many`:
the SQLAlchemy statement (the same portable upsert, ``syncer/store/upsert.py``) is compiled
once per dialect and column list, and the driver gets rows the caller converted with
:func:`db_time` and :func:`db_json`, in exactly the forms those types would have stored (so
every other reader of the tables, SQLAlchemy's included, reads them unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from syncer import jsontext


@dataclass(frozen=True)
class Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order (SQLite's "?"); None: named


_COMPILED: dict[tuple[str, str, tuple[str, ...]], Compiled] = {}


def compiled(
    conn: Connection, name: str, columns: Sequence[str], build: Callable[[], Any]
) -> Compiled:
    """The statement ``build()`` returns, compiled for ``conn``'s dialect with ``columns`` in
    its VALUES; cached under ``name`` (one name, one statement shape)."""
    key = (conn.dialect.name, name, tuple(columns))
    found = _COMPILED.get(key)
    if found is None:
        result = build().compile(dialect=conn.dialect, column_keys=list(columns))
        positions = tuple(result.positiontup or ()) if result.positional else None
        found = _COMPILED[key] = Compiled(result.string, positions)
    return found


def execute_many(conn: Connection, statement: Compiled, rows: Sequence[Mapping[str, Any]]) -> int:
    """Run ``statement`` once per row (the driver's executemany); rows affected."""
    if not rows:
        return 0
    if statement.positions is None:
        params: Any = list(rows)
    else:
        names = statement.positions
        params = [tuple(row[name] for name in names) for row in rows]
    result = conn.exec_driver_sql(statement.sql, params)
    return max(result.rowcount, 0)


def time_converter(conn: Connection) -> Callable[[datetime | None], Any]:
    """What :class:`syncer.store.tables.UtcDateTime` (with the dialect's own DateTime) binds
    for a datetime: aware UTC on PostgreSQL; on SQLite, SQLAlchemy's text form of naive UTC."""
    return _sqlite_time if conn.dialect.name == "sqlite" else _aware_utc


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


def _sqlite_time(value: datetime | None) -> str | None:
    utc = _aware_utc(value)
    # SQLAlchemy's SQLite DATETIME storage format: "%Y-%m-%d %H:%M:%S.%f", always with micros.
    return None if utc is None else utc.replace(tzinfo=None).isoformat(" ", "microseconds")


def db_json(value: Any) -> str:
    """A JSON column's value as text (PostgreSQL casts it, ``::JSON`` in the compiled SQL);
    None is JSON ``null``, as SQLAlchemy's JSON type stores it."""
    return jsontext.compact(value)
