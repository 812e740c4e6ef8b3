"""Reading and replaying the ``quarantine`` table (``syncer/quarantine.py`` drives it).

Filing a record into quarantine and resolving it are ``repo.quarantine`` and
``repo.resolve_quarantined``, as the pull uses them; this module holds what the replay adds:
listing the open rows with filters, and recording the outcome of a retry without claiming
the vendor sent the record again (``last_seen_at`` is the vendor's, and stays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.store.repo import quarantine_t


@dataclass(frozen=True)
class OpenRecord:
    """One unresolved quarantined record."""

    id: int
    connection: str
    stream: str
    record_key: str
    raw: dict[str, Any]
    reason: str
    attempts: int
    first_seen_at: datetime
    last_seen_at: datetime
    mapping_fingerprint: str | None


@dataclass(frozen=True)
class Filters:
    """Which open rows: of one connection, whose reason contains some text (any case), and
    only those last mapped with other inputs than ``stale_for`` (a fingerprint)."""

    connection: str | None = None
    reason: str | None = None
    stale_for: str | None = None


def open_records(
    conn: Connection, filters: Filters, *, after_id: int = 0, limit: int | None = None
) -> list[OpenRecord]:
    """Open rows matching ``filters`` with an id above ``after_id``, oldest first (a batch
    loop pages by id, so rows a retry changed are not met twice)."""
    table = quarantine_t
    stmt = sa.select(table).where(table.c.resolved_at.is_(None), table.c.id > after_id)
    if filters.connection is not None:
        stmt = stmt.where(table.c.connection == filters.connection)
    if filters.reason:
        needle = filters.reason.lower()
        stmt = stmt.where(sa.func.lower(table.c.reason).contains(needle, autoescape=True))
    if filters.stale_for is not None:
        fingerprint = table.c.mapping_fingerprint
        stmt = stmt.where(sa.or_(fingerprint.is_(None), fingerprint != filters.stale_for))
    stmt = stmt.order_by(table.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_record(row) for row in conn.execute(stmt)]


def _record(row: Any) -> OpenRecord:
    return OpenRecord(
        row.id,
        row.connection,
        row.stream,
        row.record_key,
        dict(row.raw),
        row.reason,
        row.attempts,
        row.first_seen_at,
        row.last_seen_at,
        row.mapping_fingerprint,
    )


def record_failures(conn: Connection, reasons: Sequence[tuple[int, str]], fingerprint: str) -> None:
    """Rows (by id) a retry could not map: their new reason, one more attempt, and the
    fingerprint they failed under (so a pull does not retry them until it changes)."""
    for row_id, reason in reasons:
        conn.execute(
            quarantine_t.update()
            .where(quarantine_t.c.id == row_id, quarantine_t.c.resolved_at.is_(None))
            .values(
                reason=reason,
                attempts=quarantine_t.c.attempts + 1,
                mapping_fingerprint=fingerprint,
            )
        )


def stamp(conn: Connection, row_ids: Sequence[int], fingerprint: str) -> None:
    """Record the fingerprint rows were (successfully) re-mapped under."""
    if row_ids:
        stmt = quarantine_t.update().where(quarantine_t.c.id.in_(list(row_ids)))
        conn.execute(stmt.values(mapping_fingerprint=fingerprint))
