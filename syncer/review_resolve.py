"""Settling one review item (listed by ``syncer/review_queue.py``): a person's decision is
recorded in the store with who (user@host) and when, on the ledger row (as ``callsync writes``
does) or on the review item (``resolved_at``, ``resolution``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from syncer import settle
from syncer.review_choice import CHOICE_KEY
from syncer.review_queue import (
    IN_DOUBT,
    LOOKALIKES,
    OPTIONS,
    WRITES,
    Item,
    ReviewError,
    calls_t,
    candidates,
    items,
)
from syncer.review_twins import TWIN_DISAGREES, link_lookalike
from syncer.store import ledger, repo
from syncer.store.review import review_t
from syncer.store.twins import Tolerances
from syncer.store.upsert import insert_for


def _stamp() -> str:
    return f"{settle.who()} at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"


def resolve(
    engine: Engine,
    item_id: str,
    option: str,
    *,
    kinds: Mapping[str, str],
    tolerances: Tolerances,
    remote_id: str | None = None,
) -> str:
    """Record a person's decision on one waiting item; returns what was recorded, in words."""
    prefix, _, rest = item_id.partition(":")
    target, _, call_uid = rest.rpartition(":")
    if prefix == "r" and rest.isdigit():
        return _resolve_review_item(engine, int(rest), option)
    waiting = {item.id: item for item in _waiting(engine, prefix, target, kinds, tolerances)}
    item = waiting.get(item_id)
    if item is None:
        raise ReviewError(f"no item {item_id!r} waits for review")
    if option not in item.options:
        raise ReviewError(f"{item_id} takes {' | '.join(item.options)}, not {option!r}")
    if item.kind == TWIN_DISAGREES:
        return _resolve_twin(engine, item, option)
    if item.kind == LOOKALIKES and option != "skip":
        return link_lookalike(engine, call_uid, target, option, _stamp())
    if item.kind == IN_DOUBT or option == "skip":
        decision = settle.Decision(call_uid, target, option, remote_id)
        try:
            return settle.apply(engine, decision)
        except settle.SettleError as error:
            raise ReviewError(str(error)) from None
    return _resolve_ambiguous(engine, item, option)


def _waiting(
    engine: Engine, prefix: str, target: str, kinds: Mapping[str, str], tolerances: Tolerances
) -> list[Item]:
    if prefix == "w" and target:
        return [i for i in items(engine, kinds, tolerances, connection=target) if i.kind in WRITES]
    if prefix == "t" and target:
        return items(engine, kinds, tolerances, kind=TWIN_DISAGREES, connection=target)
    return []


def _resolve_ambiguous(engine: Engine, item: Item, option: str) -> str:
    assert item.call_uid is not None
    stamp = _stamp()
    with engine.begin() as conn:
        row = ledger.get(conn, item.call_uid, item.connection)
        evidence = {**(row.evidence or {}), "settled_by": stamp, "decision": option}
        if option == "retry":
            ledger.admin_settle(
                conn, item.call_uid, item.connection, ledger.PARKED, evidence=evidence
            )
            return "the next push resolves the call again"
        chosen = {"person": option, "by": stamp}
        repo.put_state(conn, item.connection, {CHOICE_KEY.format(item.call_uid): chosen})
        ledger.admin_settle(
            conn,
            item.call_uid,
            item.connection,
            ledger.PARKED,
            reason=f"{option} chosen by {stamp}: the next push writes the call onto it",
            evidence={**evidence, "chosen": option, "candidates": list(candidates(row.reason))},
        )
    return f"chose {option}: the next push writes the call onto it"


def _resolve_twin(engine: Engine, item: Item, option: str) -> str:
    assert item.call_uid is not None
    stamp = _stamp()
    with engine.begin() as conn:
        source_hash = conn.execute(
            sa.select(calls_t.c.content_hash).where(calls_t.c.call_uid == item.call_uid)
        ).scalar_one()
        detail = {**item.evidence, "why": item.why, "source_hash": source_hash}
        _record_twin_decision(conn, item, option, stamp, detail)
        if option == "keep":
            return "kept: both records stay as they are"
        twin = item.evidence["twin"]["record"]
        if option == "update-twin":
            # ``failed`` with its remote id: the next push updates that record once and the
            # row goes back to ``done`` as a twin (it is never written onto again by itself).
            ledger.admin_settle(
                conn,
                item.call_uid,
                item.connection,
                ledger.FAILED,
                reason=f"update-twin by {stamp}: the next push writes the call onto {twin}",
            )
            return f"the next push writes the source call onto {twin} once"
        ledger.admin_settle(
            conn,
            item.call_uid,
            item.connection,
            ledger.FAILED,
            kind=ledger.WRITTEN,
            remote_id=None,
            written_hash=None,
            reason=f"unlinked from {twin} by {stamp}: the next push creates the call",
        )
    return f"unlinked from {twin}: the next push creates the call"


def _record_twin_decision(
    conn: Connection, item: Item, option: str, stamp: str, detail: dict[str, Any]
) -> None:
    values = {
        "detail": detail | {"decision": option, "settled_by": stamp},
        "resolved_at": datetime.now(UTC),
        "resolution": f"{option} by {stamp}",
    }
    stmt = insert_for(conn, review_t).values(
        kind=TWIN_DISAGREES,
        connection=item.connection,
        subject=item.call_uid,
        other=item.evidence["twin_call"],
        created_at=datetime.now(UTC),
        **values,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "connection", "subject", "other"], set_=values
        )
    )


def _resolve_review_item(engine: Engine, item_id: int, option: str) -> str:
    stamp = _stamp()
    with engine.begin() as conn:
        row = conn.execute(sa.select(review_t).where(review_t.c.id == item_id)).first()
        if row is None or row.resolved_at is not None or row.kind == TWIN_DISAGREES:
            raise ReviewError(f"no item 'r:{item_id}' waits for review")
        options = OPTIONS.get(row.kind, ("dismiss",))
        if option not in options:
            raise ReviewError(f"r:{item_id} takes {' | '.join(options)}, not {option!r}")
        conn.execute(
            review_t.update()
            .where(review_t.c.id == item_id)
            .values(
                resolved_at=datetime.now(UTC),
                resolution=f"{option} by {stamp}",
                detail={**(row.detail or {}), "decision": option, "settled_by": stamp},
            )
        )
    return f"{option}, recorded by {stamp}"


def decision_of(row: Any) -> str | None:
    """The option a person chose on a resolved review item (None: still open)."""
    if row.resolved_at is None:
        return None
    return str((row.detail or {}).get("decision") or (row.resolution or "").split(" ")[0])
