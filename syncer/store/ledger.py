"""The write ledger (``call_links``), guarded by fenced leases (``syncer/store/leases.py``).

One row per (canonical call, target connection). The states and what moves a row between them
are drawn once, in ``syncer/push.py``; this module only stores them. Every write here is
*fenced*: it runs in a transaction that first renews the writer's lease with the token it was
granted, so a worker whose lease expired and was taken over records nothing (and, on PostgreSQL,
holds the lease row locked until its transaction ends, so a takeover waits for it).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.conflicts import digest
from syncer.model import Call
from syncer.store.leases import Fence, check
from syncer.store.tables import CallLinkRow, CallRow
from syncer.store.upsert import insert_for

calls_t = cast(sa.Table, CallRow.__table__)
links_t = cast(sa.Table, CallLinkRow.__table__)

IN_DOUBT = "in_doubt"  # a request may have left: settle by marker before anything is sent
DONE = "done"  # the target holds the call (remote_id)
PARKED = "parked"  # nothing sent: the target lacks what the call hangs on (a person, a user)
FAILED = "failed"  # nothing applied: the target refused (a create or an update)
STALE = "stale"  # the target holds an older version it cannot change
NEEDS_REVIEW = "needs_review"  # in doubt and no look-up can settle it: a person decides
SKIPPED = "skipped"  # a person decided this call is not written into this target
# The call was deleted at its source (``routes[].deletions``, ``syncer/deletions.py``):
DELETED = "deleted"  # ... and callsync deleted its copy in the target (propagate)
MARKED = "marked"  # ... and its copy's note says so (mark)
STATES = (IN_DOUBT, DONE, PARKED, FAILED, STALE, NEEDS_REVIEW, SKIPPED, DELETED, MARKED)

WRITTEN = "written"  # callsync created (or adopted) the record
MATCHED = "matched"  # an independently logged twin: linked, never written onto
KINDS = (WRITTEN, MATCHED)

# ``written_hash`` of a row whose copy was edited in the target: the target no longer holds
# what was written, so the row differs from every call's hash until a push reconciles it.
EDITED = "edited in the target"

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


# --- ledger rows -------------------------------------------------------------------------------


def backoff(failures: int, rng: random.Random | None = None) -> timedelta:
    """How long a row waits after ``failures`` failed attempts in a row: the first retry comes
    at the next run, then 30 s, 1 min, 2 min ... capped at an hour, with jitter (50-100 %)."""
    if failures <= 1:
        return timedelta(0)
    ceiling: timedelta = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 2))
    share: float = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=ceiling.total_seconds() * share)


def _key(call_uid: str, target: str) -> Any:
    return sa.and_(links_t.c.call_uid == call_uid, links_t.c.target_connection == target)


def claim(
    conn: Connection, fence: Fence, call_uid: str, target: str, marker: str, sent_hash: str
) -> None:
    """Make the row ``in_doubt`` before a create is sent (inserted if there is none): from this
    commit on, a crash leaves a write that only a marker look-up may settle. ``sent_hash`` is
    the content being sent: a record adopted later holds that, not whatever the call is then."""
    write_rows(conn, fence, [claim_row(call_uid, target, marker, sent_hash)])


def complete(
    conn: Connection,
    fence: Fence,
    call_uid: str,
    target: str,
    remote_id: str | None,
    written_hash: str,
    *,
    kind: str = WRITTEN,
    reason: str | None = None,
    fields: dict[str, Any] | None = None,
    edits: dict[str, Any] | None = None,
    seen_edits: Any = None,
    sent_back: Mapping[str, Any] | None = None,
) -> None:
    """The target holds the call as ``remote_id`` (created, adopted, updated or a twin; None:
    it holds the call as the record of a sibling call, named in ``reason``). ``fields``: what
    was written per field (``syncer/conflicts.py``; None: not known field by field);
    ``edits``: the target's edits that stay on the record.

    ``seen_edits`` (an update: the row's ``target_edits`` when the writer read it) makes the
    completion a compare-and-set: a pull that noted edits on the row since, while the write was
    under way, keeps them (the row stays "edited in the target", to be reconciled by the next
    push), except values that are the write itself read back (``sent_back``: the editable
    fields as sent, the way the target reads them back)."""
    if sent_back is not None:
        check(conn, fence)  # before the locked read: a writer that lost its lease reads nothing
        noted = _noted_since(conn, call_uid, target, seen_edits, sent_back)
        if noted is not None:
            edits = {**(edits or {}), "values": {**_values(edits), **noted[0]}, "at": noted[1]}
            written_hash, reason = EDITED, f"edited in the target: {', '.join(sorted(noted[0]))}"
    row = complete_row(
        call_uid,
        target,
        remote_id,
        written_hash,
        kind=kind,
        reason=reason,
        fields=fields,
        edits=edits,
    )
    write_rows(conn, fence, [row])


# --- the rows of claim, complete and settle, written one by one or a chunk at once -------------

# Columns only an insert sets; the rest are the row's new values (``excluded`` on a conflict).
_INSERT_ONLY = frozenset({"call_uid", "target_connection", "created_at"})
# Rows of these ops start at ``attempts`` 1; a conflict counts one more attempt instead.
_COUNTED = "counted"


def claim_row(
    call_uid: str, target: str, marker: str, sent_hash: str, stamp: datetime | None = None
) -> dict[str, Any]:
    """The row :func:`claim` writes (``in_doubt``, the create's evidence, one more attempt)."""
    stamp = stamp or _now()
    return {
        "call_uid": call_uid,
        "target_connection": target,
        "state": IN_DOUBT,
        "kind": WRITTEN,
        "marker": marker,
        "evidence": {"sent": "create", "marker": marker, "sent_hash": sent_hash},
        "next_attempt_at": None,
        "created_at": stamp,
        "updated_at": stamp,
        _COUNTED: True,
    }


def complete_row(
    call_uid: str,
    target: str,
    remote_id: str | None,
    written_hash: str,
    *,
    kind: str = WRITTEN,
    reason: str | None = None,
    fields: dict[str, Any] | None = None,
    edits: dict[str, Any] | None = None,
    stamp: datetime | None = None,
) -> dict[str, Any]:
    """The row :func:`complete` writes (``done``, its attempts and evidence cleared)."""
    stamp = stamp or _now()
    return {
        "call_uid": call_uid,
        "target_connection": target,
        "marker!": call_uid,  # set on an insert only
        "created_at": stamp,
        "state": DONE,
        "kind": kind,
        "remote_id": remote_id,
        "written_hash": written_hash,
        "written_fields": fields,
        "target_edits": edits,
        "reason": reason,
        "evidence": None,
        "attempts": 0,
        "next_attempt_at": None,
        "updated_at": stamp,
    }


def settle_row(
    call_uid: str,
    target: str,
    state: str,
    reason: str,
    *,
    evidence: dict[str, Any] | None = None,
    failures: int = 1,
    forget_remote: bool = False,
    stamp: datetime | None = None,
) -> dict[str, Any]:
    """The row :func:`settle` writes (one more attempt; inserted as a ``written`` row)."""
    stamp = stamp or _now()
    wait = timedelta(0) if state == NEEDS_REVIEW else backoff(failures)
    row: dict[str, Any] = {
        "call_uid": call_uid,
        "target_connection": target,
        "created_at": stamp,
        "state": state,
        "reason": reason,
        "next_attempt_at": stamp + wait if wait else None,
        "updated_at": stamp,
        _COUNTED: True,
        # Set on an insert only (a conflict keeps the row's kind and marker):
        "kind!": WRITTEN,
        "marker!": call_uid,
    }
    if evidence is not None:
        row["evidence"] = evidence
    if forget_remote:
        row["remote_id"] = None
    return row


def write_rows(conn: Connection, fence: Fence, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows of :func:`claim_row`, :func:`complete_row` and :func:`settle_row` in one
    fenced transaction: one statement per shape of row, executed for all rows of that shape
    (rows of one call are written in the order given)."""
    check(conn, fence)
    for shape, group in _by_shape(rows):
        conn.execute(_upsert_statement(conn, shape), [_params(row) for row in group])


def _shape(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(row))


def _by_shape(rows: Sequence[dict[str, Any]]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Rows grouped by shape; in runs of one shape when a call has several rows."""
    uids = [(row["call_uid"], row["target_connection"]) for row in rows]
    groups: list[tuple[tuple[str, ...], list[Any]]] = []
    if len(set(uids)) == len(uids):
        index: dict[tuple[str, ...], list[Any]] = {}
        for row in rows:
            index.setdefault(_shape(row), []).append(row)
        return list(index.items())
    for row in rows:
        if groups and groups[-1][0] == _shape(row):
            groups[-1][1].append(row)
        else:
            groups.append((_shape(row), [row]))
    return groups


def _params(row: dict[str, Any]) -> dict[str, Any]:
    params = {key.rstrip("!"): value for key, value in row.items() if key != _COUNTED}
    if _COUNTED in row:
        params["attempts"] = 1
    return params


def _upsert_statement(conn: Connection, shape: tuple[str, ...]) -> Any:
    stmt = insert_for(conn, links_t)
    updated = [c for c in shape if c not in _INSERT_ONLY and c != _COUNTED and "!" not in c]
    values: dict[str, Any] = {c: stmt.excluded[c] for c in updated}
    if _COUNTED in shape:
        values["attempts"] = links_t.c.attempts + 1
    return stmt.on_conflict_do_update(index_elements=["call_uid", "target_connection"], set_=values)


def _values(edits: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict((edits or {}).get("values") or {})


def _noted_since(
    conn: Connection, call_uid: str, target: str, seen: Any, sent_back: Mapping[str, Any]
) -> tuple[dict[str, Any], Any] | None:
    """Edits a pull noted on the row after the writer read it (values, when), less the ones
    that are the write read back (None: nothing noted since)."""
    row = get_locked(conn, call_uid, target)
    if row is None or not row.target_edits or row.target_edits == seen:
        return None
    before = _values(seen)
    noted = {
        name: value
        for name, value in _values(row.target_edits).items()
        if name not in sent_back or digest(value) != digest(sent_back[name])
        if name not in before or digest(value) != digest(before[name])
    }
    return (noted, row.target_edits.get("at")) if noted else None


def reconcile(
    conn: Connection,
    fence: Fence,
    call_uid: str,
    target: str,
    written_hash: str,
    fields: dict[str, Any] | None,
    reason: str,
) -> None:
    """The target's record already is what the call should be there (a kept edit, a field the
    target owns): nothing is sent; the row is marked reconciled with the call's content."""
    check(conn, fence)
    values = {"written_hash": written_hash, "reason": reason, "updated_at": _now()}
    if fields is not None:
        values["written_fields"] = fields
    conn.execute(links_t.update().where(_key(call_uid, target)).values(**values))


def note_edits(
    conn: Connection, call_uid: str, target: str, edits: dict[str, Any], reason: str
) -> bool:
    """A pull of ``target`` found callsync's copy of the call edited there (no lease: only the
    edit columns change, and the content hash, so the next push reconciles the row)."""
    result = conn.execute(
        links_t.update()
        .where(_key(call_uid, target), links_t.c.state == DONE, links_t.c.kind == WRITTEN)
        .values(
            target_edits=edits,
            written_hash=EDITED,
            reason=reason,
            updated_at=_now(),
        )
    )
    return bool(result.rowcount)


def settle(
    conn: Connection,
    fence: Fence,
    call_uid: str,
    target: str,
    state: str,
    reason: str,
    *,
    evidence: dict[str, Any] | None = None,
    failures: int = 1,
    forget_remote: bool = False,
) -> None:
    """Record an attempt that did not end in ``done``; the row waits :func:`backoff`.
    ``forget_remote``: the record it pointed at is gone (deleted to be recreated)."""
    row = settle_row(
        call_uid,
        target,
        state,
        reason,
        evidence=evidence,
        failures=failures,
        forget_remote=forget_remote,
    )
    write_rows(conn, fence, [row])


def retire(
    conn: Connection, fence: Fence, call_uid: str, target: str, state: str, reason: str
) -> None:
    """The source deleted the call and the target's record followed (``DELETED``: gone, its
    remote id kept as history; ``MARKED``: its note says so). Nothing is due any more."""
    check(conn, fence)
    conn.execute(
        links_t.update()
        .where(_key(call_uid, target))
        .values(state=state, reason=reason, attempts=0, next_attempt_at=None, updated_at=_now())
    )


def sent_hash(row: Any) -> str:
    """The content a row's in-doubt create sent ("" when unknown: the adopted record is then
    rewritten with the call's current content, which is always safe on a copy callsync wrote)."""
    return str((row.evidence or {}).get("sent_hash") or "")


# --- what an admin does (``callsync writes``) ---------------------------------------------------


def admin_settle(conn: Connection, call_uid: str, target: str, state: str, **values: Any) -> bool:
    """A person's decision on a row (no lease: it is recorded with its reason and applied by
    the next push under the lease)."""
    result = conn.execute(
        links_t.update()
        .where(_key(call_uid, target))
        .values(state=state, next_attempt_at=None, updated_at=_now(), **values)
    )
    return bool(result.rowcount)


def rows(
    conn: Connection, states: Sequence[str], target: str | None = None, limit: int = 50
) -> list[Any]:
    """Ledger rows in ``states`` (oldest change first), with reason, evidence and backoff."""
    stmt = sa.select(links_t).where(links_t.c.state.in_(list(states)))
    if target is not None:
        stmt = stmt.where(links_t.c.target_connection == target)
    return list(conn.execute(stmt.order_by(links_t.c.updated_at).limit(limit)))


def backing_off(conn: Connection, now: datetime | None = None) -> dict[str, int]:
    """Per target: rows waiting for their next attempt."""
    stmt = (
        sa.select(links_t.c.target_connection, sa.func.count())
        .where(links_t.c.next_attempt_at > (now or _now()))
        .group_by(links_t.c.target_connection)
    )
    return {target: int(count) for target, count in conn.execute(stmt)}


# --- what the push engine reads ----------------------------------------------------------------


def get(conn: Connection, call_uid: str, target: str) -> Any:
    return conn.execute(sa.select(links_t).where(_key(call_uid, target))).first()


def get_locked(conn: Connection, call_uid: str, target: str) -> Any:
    """The row, locked until the transaction ends (on PostgreSQL; SQLite serialises writers):
    a pull noting an edit and a push completing a write into the target take turns on it."""
    stmt = sa.select(links_t).where(_key(call_uid, target)).with_for_update()
    return conn.execute(stmt).first()


# Built once (a pull asks it on every page), its ids an expanding parameter.
_WRITTEN_COPIES = sa.select(links_t.c.remote_id, links_t.c.call_uid).where(
    links_t.c.target_connection == sa.bindparam("target"),
    links_t.c.kind == WRITTEN,
    links_t.c.remote_id.in_(sa.bindparam("ids", expanding=True)),
)


def written_copies(conn: Connection, target: str, remote_ids: Sequence[str]) -> dict[str, str]:
    """remote id -> call_uid for the records of ``target`` that callsync wrote (or adopted);
    linked twins are not copies: they stay calls of their own."""
    if not remote_ids:
        return {}
    found = conn.execute(_WRITTEN_COPIES, {"target": target, "ids": list(remote_ids)})
    return {row.remote_id: row.call_uid for row in found}


def counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Ledger rows per target connection and state."""
    stmt = sa.select(links_t.c.target_connection, links_t.c.state, sa.func.count()).group_by(
        links_t.c.target_connection, links_t.c.state
    )
    found: dict[str, dict[str, int]] = {}
    for target, state, count in conn.execute(stmt):
        found.setdefault(target, {})[state] = int(count)
    return found


def waiting(conn: Connection, target: str, limit: int = 20) -> list[Any]:
    """Writes that did not land, newest first, with their reasons and next attempt."""
    stmt = (
        sa.select(links_t)
        .where(links_t.c.target_connection == target)
        .where(links_t.c.state.in_([IN_DOUBT, PARKED, FAILED, STALE, NEEDS_REVIEW]))
        .order_by(links_t.c.updated_at.desc())
        .limit(limit)
    )
    return list(conn.execute(stmt))


def is_echo(source: str) -> Any:
    """A SQL condition on ``calls``: the call's record in ``source`` is one callsync wrote there
    (such calls are never routed back out of it)."""
    echo = links_t.alias("echo")
    return sa.exists().where(
        echo.c.target_connection == source,
        echo.c.kind == WRITTEN,
        echo.c.remote_id == calls_t.c.origin_external_id,
    )


def routable(
    conn: Connection,
    source: str,
    target: str,
    *,
    after: str = "",
    limit: int = 200,
    include_stale: bool = False,
    include_twins: bool = False,
    now: datetime | None = None,
) -> list[tuple[Call, Any]]:
    """Calls read from ``source`` that ``target`` lacks or holds stale, due now, in
    ``call_uid`` order after ``after`` (keyset pages keep memory flat), with their ledger row
    (or None). Rows waiting for a person (``needs_review``) or for their backoff are left out;
    a linked twin is written onto only when the route says so (``include_twins``).

    Calls whose record in ``source`` is one callsync wrote there are never echoed back.
    """
    link = links_t.alias("link")
    states = [IN_DOUBT, PARKED, FAILED] + ([STALE] if include_stale else [])
    kinds = [WRITTEN, MATCHED] if include_twins else [WRITTEN]
    changed = sa.and_(
        link.c.state == DONE,
        link.c.kind.in_(kinds),
        link.c.remote_id.is_not(None),
        link.c.written_hash != calls_t.c.content_hash,
    )
    due = sa.or_(link.c.next_attempt_at.is_(None), link.c.next_attempt_at <= (now or _now()))
    needs_write = sa.or_(link.c.call_uid.is_(None), sa.and_(link.c.state.in_(states), due), changed)
    not_an_echo = ~is_echo(source)
    stmt = (
        sa.select(calls_t.c.data, calls_t.c.call_uid, link)
        .select_from(
            calls_t.outerjoin(
                link,
                sa.and_(link.c.call_uid == calls_t.c.call_uid, link.c.target_connection == target),
            )
        )
        .where(calls_t.c.origin_connection == source, calls_t.c.deleted_at.is_(None))
        .where(calls_t.c.call_uid > after, needs_write, not_an_echo)
        .order_by(calls_t.c.call_uid)
        .limit(limit)
    )
    rows = conn.execute(stmt).all()
    return [(Call.model_validate(row.data), row if row.state is not None else None) for row in rows]
