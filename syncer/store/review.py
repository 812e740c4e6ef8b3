"""What only a person can settle, kept with its evidence until someone does.

Today one kind is recorded: ``duplicate_pair``, a call a rep logged by hand in a target after
callsync had already written its copy there. callsync never deletes either record; it reports
the pair (``callsync status``, ``callsync writes duplicates``) so a person can merge them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.store.tables import ReviewItemRow
from syncer.store.twins import DuplicatePair
from syncer.store.upsert import insert_for

review_t = cast(sa.Table, ReviewItemRow.__table__)
DUPLICATE_PAIR = "duplicate_pair"
# The mass-change guard stopped a route target or a sweep's deletions (``syncer/guard.py``):
# ``connection`` is the target (or the swept connection), ``subject`` the route's source (or
# the stream), ``other`` "push" (or "sweep"); ``detail`` holds the counts and the limits.
GUARD_TRIP = "guard_trip"


def record_duplicates(conn: Connection, pairs: Sequence[DuplicatePair]) -> int:
    """Record each pair once (a pair seen again is left as it is); returns how many are new."""
    new = 0
    for pair in pairs:
        detail = {
            "logged_remote": pair.logged_remote,
            "copy_remote": pair.copy_remote,
            "why": (
                f"{pair.connection} record {pair.logged_remote} was logged independently after "
                f"callsync wrote {pair.copy_remote} there for the same call"
            ),
        }
        stmt = (
            insert_for(conn, review_t)
            .values(
                kind=DUPLICATE_PAIR,
                connection=pair.connection,
                subject=pair.logged,
                other=pair.copied,
                detail=detail,
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["kind", "connection", "subject", "other"])
            .returning(review_t.c.id)
        )
        new += len(conn.execute(stmt).all())
    return new


def record_open(
    conn: Connection, kind: str, connection: str, subject: str, other: str, detail: dict[str, Any]
) -> None:
    """Record an item, or refresh it (its latest detail, open again) when it comes back: a
    guard that trips again needs a person again, even if the last trip was settled."""
    values = {"detail": detail, "resolved_at": None, "resolution": None}
    stmt = insert_for(conn, review_t).values(
        kind=kind,
        connection=connection,
        subject=subject,
        other=other,
        created_at=datetime.now(UTC),
        **values,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "connection", "subject", "other"], set_=values
        )
    )


def take_acceptance(conn: Connection, kind: str, connection: str, subject: str, other: str) -> bool:
    """Whether a person accepted this item (``callsync review resolve r:N --choose accept``)
    and the acceptance is unused. Taking it marks it used: it lets one run through, and the
    next trip needs a person again."""
    row = _unused_acceptance(conn, kind, connection, subject, other)
    if row is None:
        return False
    used = {**(row.detail or {}), "used_at": datetime.now(UTC).isoformat()}
    conn.execute(review_t.update().where(review_t.c.id == row.id).values(detail=used))
    return True


def has_acceptance(conn: Connection, kind: str, connection: str, subject: str, other: str) -> bool:
    """:func:`take_acceptance` without taking it (a dry run asks what a run would do)."""
    return _unused_acceptance(conn, kind, connection, subject, other) is not None


def _unused_acceptance(
    conn: Connection, kind: str, connection: str, subject: str, other: str
) -> Any | None:
    row = conn.execute(
        sa.select(review_t).where(
            review_t.c.kind == kind,
            review_t.c.connection == connection,
            review_t.c.subject == subject,
            review_t.c.other == other,
        )
    ).first()
    accepted = row is not None and (row.resolution or "").startswith("accept ")
    if row is None or not accepted or (row.detail or {}).get("used_at"):
        return None
    return row


def open_items(conn: Connection, kind: str | None = None, limit: int = 500) -> list[Any]:
    stmt = sa.select(review_t).where(review_t.c.resolved_at.is_(None))
    if kind is not None:
        stmt = stmt.where(review_t.c.kind == kind)
    return list(conn.execute(stmt.order_by(review_t.c.id).limit(limit)))


def open_counts(conn: Connection) -> dict[str, int]:
    stmt = (
        sa.select(review_t.c.kind, sa.func.count())
        .where(review_t.c.resolved_at.is_(None))
        .group_by(review_t.c.kind)
    )
    return {kind: int(count) for kind, count in conn.execute(stmt)}
