"""Is the call already in the target? Twin matching, best-first.

The same real call is often logged in two tools: a rep logs it by hand in Close while
Amplemarket's dialer logs it too, or two routes carry the same call into one target. A target
holds call ``X`` already when it has a record of a call that is the same real call:
- an *independent twin*: a call read from the target itself (not written by callsync), or
- a *sibling*: a call from another source that the target already holds (callsync wrote it
  there, or linked it to an independent twin there).

Two calls are the same real call when the remote party's number (E.164) is the same, the starts
and the durations are within the configured tolerances, and direction and rep agree where both
sides know them. Matching is best-first and mutual: a candidate goes to the source call that
fits it best (closest start, then closest duration), so of two redials 20 s apart only the one
that was really logged twice takes the twin. Two records of the target's own that fit equally
well (a call logged twice by hand, an import run twice) are not chosen between: the call waits
for a person with both (:class:`Lookalikes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.model import Call
from syncer.store.ledger import DONE, WRITTEN, links_t
from syncer.store.tables import CallRow, ReviewItemRow

calls_t = cast(sa.Table, CallRow.__table__)
review_t = cast(sa.Table, ReviewItemRow.__table__)


@dataclass(frozen=True)
class Tolerances:
    start: timedelta = timedelta(seconds=60)
    duration_seconds: int = 5


@dataclass(frozen=True)
class Twin:
    """Where the target already holds the call: ``remote_id`` of an independent record, or
    ``sibling``, the call whose callsync copy the target holds (its remote id in its row)."""

    remote_id: str | None
    sibling: str | None = None
    sibling_remote: str | None = None


@dataclass(frozen=True)
class _Side:
    """What matching compares of one call."""

    uid: str
    started_at: Any
    duration: int | None
    direction: str | None
    rep: str | None

    @classmethod
    def of_row(cls, row: Any) -> _Side:
        data = row.data or {}
        user = data.get("user") or {}
        email = user.get("email") if isinstance(user, dict) else None
        return cls(
            row.call_uid,
            row.started_at,
            row.duration_seconds,
            data.get("direction"),
            email.lower() if isinstance(email, str) and email else None,
        )

    @classmethod
    def of_call(cls, call: Call) -> _Side:
        email = call.user.email if call.user else None
        return cls(
            call.call_uid,
            call.started_at,
            call.duration_seconds,
            call.direction.value if call.direction else None,
            email.lower() if email else None,
        )


def remote_number(call: Call) -> str | None:
    remote = call.to_number if call.direction != "inbound" else call.from_number
    return remote.e164 if remote is not None else None


def _fits(a: _Side, b: _Side, tolerances: Tolerances) -> tuple[float, int] | None:
    """How well two calls fit (smaller is better), None if they cannot be the same call."""
    gap = abs((a.started_at - b.started_at).total_seconds())
    if gap > tolerances.start.total_seconds():
        return None
    spread = 0
    if a.duration is not None and b.duration is not None:
        spread = abs(a.duration - b.duration)
        if spread > tolerances.duration_seconds:
            return None
    if a.direction and b.direction and a.direction != b.direction:
        return None
    if a.rep and b.rep and a.rep != b.rep:
        return None
    return gap, spread


def _near(number: str, start: Any, tolerances: Tolerances) -> Any:
    return sa.and_(
        sa.or_(calls_t.c.to_e164 == number, calls_t.c.from_e164 == number),
        calls_t.c.started_at.between(start - tolerances.start, start + tolerances.start),
        calls_t.c.deleted_at.is_(None),
    )


def _columns() -> list[Any]:
    return [
        calls_t.c.call_uid,
        calls_t.c.origin_external_id,
        calls_t.c.started_at,
        calls_t.c.duration_seconds,
        calls_t.c.data,
    ]


@dataclass(frozen=True)
class Lookalikes:
    """Several records of the target's own fit the call equally well: which one is the call
    is for a person to say (``remote_ids``, in id order)."""

    remote_ids: tuple[str, ...]


@dataclass(frozen=True)
class DuplicatePair:
    """A call logged independently in ``connection`` (``logged``, its record ``logged_remote``)
    beside the copy callsync had already written there of call ``copied`` (``copy_remote``)."""

    connection: str
    logged: str
    logged_remote: str
    copied: str
    copy_remote: str


def duplicate_pairs(
    conn: Connection, connection: str, since: Any, tolerances: Tolerances
) -> list[DuplicatePair]:
    """Independent records of ``connection`` first stored at or after ``since`` that are the
    same real call as a copy callsync wrote there before: two records of one call that only a
    person may merge (the one case twin matching cannot prevent)."""
    written = sa.select(links_t.c.call_uid, links_t.c.remote_id).where(
        links_t.c.target_connection == connection,
        links_t.c.kind == WRITTEN,
        links_t.c.state == DONE,
        links_t.c.remote_id.is_not(None),
    )
    if conn.execute(written.limit(1)).first() is None:
        return []  # nothing was ever written here: the common case costs one query
    fresh = sa.select(*_columns(), calls_t.c.to_e164, calls_t.c.from_e164).where(
        calls_t.c.origin_connection == connection,
        calls_t.c.created_at >= since,
        calls_t.c.deleted_at.is_(None),
    )
    pairs = []
    for row in conn.execute(fresh):
        pair = _copy_beside(conn, connection, row, written, tolerances)
        if pair is not None:
            pairs.append(pair)
    return pairs


def _copy_beside(
    conn: Connection, connection: str, row: Any, written: Any, tolerances: Tolerances
) -> DuplicatePair | None:
    number = row.to_e164 if (row.data or {}).get("direction") != "inbound" else row.from_e164
    if number is None:
        return None
    copies = written.subquery()
    near = (
        sa.select(*_columns(), copies.c.remote_id)
        .join(copies, copies.c.call_uid == calls_t.c.call_uid)
        .where(calls_t.c.origin_connection != connection)
        .where(_near(number, row.started_at, tolerances))
    )
    logged = _Side.of_row(row)
    ranked = sorted(
        (fit, candidate.call_uid, candidate)
        for candidate in conn.execute(near)
        if candidate.remote_id != row.origin_external_id
        and (fit := _fits(logged, _Side.of_row(candidate), tolerances)) is not None
    )
    if not ranked:
        return None
    best = ranked[0][2]
    return DuplicatePair(
        connection, row.call_uid, row.origin_external_id, best.call_uid, best.remote_id
    )


def same_call(a: Call, b: Call, tolerances: Tolerances) -> bool:
    """Whether two calls (of different sources) are one real call by the twin rules."""
    number = remote_number(a)
    if number is None or number != remote_number(b):
        return False
    return _fits(_Side.of_call(a), _Side.of_call(b), tolerances) is not None
