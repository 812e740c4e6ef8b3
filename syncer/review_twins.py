"""Twins that disagree: a call linked to a record logged independently in the target (ledger
kind ``matched``) whose content no longer fits the source call.

Matching linked them because they fitted within the tolerances; an edit on either side can pull
them apart (a start moved, a duration corrected, an outcome changed). callsync never writes onto
a twin by itself, so a person decides (``callsync review``): ``keep`` (leave both as they are),
``update-twin`` (write the source onto the twin once), ``unlink`` (a different call: the next
push creates it). A decision holds until the source call changes again; an ``unlink`` also keeps
twin matching from pairing the two again (``syncer/store/twins.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from syncer.store import ledger
from syncer.store.ledger import DONE, MATCHED, links_t
from syncer.store.tables import CallRow, ReviewItemRow
from syncer.store.twins import Tolerances

calls_t = cast(sa.Table, CallRow.__table__)
review_t = cast(sa.Table, ReviewItemRow.__table__)
TWIN_DISAGREES = "twin_disagrees"


@dataclass(frozen=True)
class Disagreement:
    call_uid: str
    target: str
    remote_id: str
    twin_uid: str
    source_hash: str
    differences: tuple[str, ...]
    source: dict[str, Any]
    twin: dict[str, Any]


def summary(row: Any) -> dict[str, Any]:
    """What a person compares of one stored call."""
    data = row.data or {}
    user = data.get("user") or {}
    return {
        "connection": row.origin_connection,
        "record": row.origin_external_id,
        "started_at": row.started_at.isoformat(),
        "duration_seconds": row.duration_seconds,
        "outcome": row.outcome,
        "direction": data.get("direction"),
        "to": row.to_e164,
        "from": row.from_e164,
        "user": user.get("email") if isinstance(user, dict) else None,
    }


def differences(source: Any, twin: Any, tolerances: Tolerances) -> tuple[str, ...]:
    """How two linked calls differ beyond what matching tolerates, in words (empty: they agree)."""
    found = []
    gap = abs((source.started_at - twin.started_at).total_seconds())
    if gap > tolerances.start.total_seconds():
        found.append(f"starts {gap:g} s apart (tolerance {tolerances.start.total_seconds():g} s)")
    if source.duration_seconds is not None and twin.duration_seconds is not None:
        spread = abs(source.duration_seconds - twin.duration_seconds)
        if spread > tolerances.duration_seconds:
            found.append(
                f"durations {source.duration_seconds} s and {twin.duration_seconds} s "
                f"(tolerance {tolerances.duration_seconds} s)"
            )
    if source.outcome != twin.outcome:
        found.append(f"outcome {source.outcome} in the source, {twin.outcome} in the twin")
    directions = ((source.data or {}).get("direction"), (twin.data or {}).get("direction"))
    if all(directions) and directions[0] != directions[1]:
        found.append(f"direction {directions[0]} in the source, {directions[1]} in the twin")
    return tuple(found)


def decided(conn: Connection) -> dict[tuple[str, str], str]:
    """(target, call uid) -> the source content hash a person decided on."""
    stmt = sa.select(review_t.c.connection, review_t.c.subject, review_t.c.detail).where(
        review_t.c.kind == TWIN_DISAGREES, review_t.c.resolved_at.is_not(None)
    )
    return {
        (row.connection, row.subject): str((row.detail or {}).get("source_hash"))
        for row in conn.execute(stmt)
    }


def disagreements(
    conn: Connection, tolerances: Tolerances, target: str | None = None
) -> Iterator[Disagreement]:
    """Every linked twin that disagrees with its source call and waits for a decision."""
    source, twin = calls_t.alias("source"), calls_t.alias("twin")
    stmt = (
        sa.select(links_t.c.target_connection, links_t.c.remote_id, source, twin)
        .join(source, source.c.call_uid == links_t.c.call_uid)
        .join(
            twin,
            sa.and_(
                twin.c.origin_connection == links_t.c.target_connection,
                twin.c.origin_external_id == links_t.c.remote_id,
            ),
        )
        .where(links_t.c.kind == MATCHED, links_t.c.state == DONE)
        .where(source.c.deleted_at.is_(None), twin.c.deleted_at.is_(None))
        .order_by(links_t.c.target_connection, links_t.c.call_uid)
    )
    if target is not None:
        stmt = stmt.where(links_t.c.target_connection == target)
    settled = decided(conn)
    width = len(source.c)
    for row in conn.execute(stmt):
        mine = _Row(dict(zip(source.c.keys(), row[2 : 2 + width], strict=True)))
        theirs = _Row(dict(zip(twin.c.keys(), row[2 + width :], strict=True)))
        if settled.get((row.target_connection, mine.call_uid)) == mine.content_hash:
            continue
        found = differences(mine, theirs, tolerances)
        if found:
            yield Disagreement(
                mine.call_uid,
                row.target_connection,
                row.remote_id,
                theirs.call_uid,
                mine.content_hash,
                found,
                summary(mine),
                summary(theirs),
            )


class _Row:
    """Attribute access to one side's columns of the joined row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def link_lookalike(engine: Engine, call_uid: str, target: str, remote_id: str, stamp: str) -> str:
    """A person's choice among look-alike records (``lookalike_twins``): ``remote_id`` is the
    call, linked as a twin (``matched``: callsync never writes onto it by itself)."""
    with engine.begin() as conn:
        content = conn.execute(
            sa.select(calls_t.c.content_hash).where(calls_t.c.call_uid == call_uid)
        ).scalar_one()
        row = ledger.get(conn, call_uid, target)
        evidence = {**(row.evidence or {}), "settled_by": stamp, "decision": remote_id}
        ledger.admin_settle(
            conn,
            call_uid,
            target,
            DONE,
            kind=MATCHED,
            remote_id=remote_id,
            written_hash=content,
            reason=f"linked to {remote_id}, chosen by {stamp}",
            evidence=evidence,
        )
    return f"linked to {remote_id}: a record logged in the target, never written onto"
