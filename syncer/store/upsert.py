"""The one portable upsert: ``INSERT .. ON CONFLICT`` on SQLite and PostgreSQL alike.

SQLAlchemy has no backend-neutral upsert, but the two dialects' ``Insert`` constructs take the
same arguments and compile to the same SQL, so one helper serves both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

# SQLite allows 32766 bound parameters per statement; stay well below for wide rows.
_MAX_PARAMS = 30000


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """The dialect's ``Insert`` (with ``on_conflict_*``) for ``table``."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"no upsert for database dialect {dialect!r}")


def _chunks(rows: Sequence[Mapping[str, Any]], width: int) -> Iterator[Sequence[Mapping[str, Any]]]:
    size = max(1, _MAX_PARAMS // max(1, width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
    where: Any = None,
) -> int:
    """Insert ``rows``; on a ``key`` conflict update ``update`` columns (all non-key by default).

    ``where`` is an optional guard built from ``table`` and ``excluded`` (pass a callable taking the
    statement), e.g. only overwrite when the incoming row is newer. ``update=()`` means do nothing
    on conflict. Returns the number of rows inserted or updated.
    """
    if not rows:
        return 0
    columns = list(rows[0].keys())
    changed = [c for c in columns if c not in key] if update is None else list(update)
    stmt = insert_for(conn, table)
    if changed:
        guard = where(stmt) if callable(where) else where
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={c: stmt.excluded[c] for c in changed},
            where=guard,
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    # One statement executed for many parameter sets: it compiles once and stays in
    # SQLAlchemy's cache, where a multi-row VALUES of a new length would compile every page.
    affected = 0
    for chunk in _chunks(rows, len(columns)):
        result = conn.execute(stmt, list(chunk))
        affected += max(result.rowcount, 0)
    return affected
