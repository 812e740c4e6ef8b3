"""The review queue: everything that needs a person, with its evidence, settled one at a time.

Item ids, stable while the item waits:

- ``w:<target>:<call_uid>``: a write of a call into a target. Kind ``ambiguous_identity``: parked
  because several people have the number (options: a candidate's id, where the target's
  connector takes a chosen person (``Connector.takes_chosen_person``); ``retry``; ``skip``).
  Kind ``in_doubt``: a write that may have landed and no look-up can settle
  (``adopt`` with ``--remote-id``, ``recreate``, ``skip``: ``syncer/settle.py``).
  Kind ``lookalike_twins``: several records of the target's own fit the call equally well
  (options: one of their ids, linked as the call's twin: ``matched``, never written onto;
  ``skip``).
- ``t:<target>:<call_uid>``: kind ``twin_disagrees`` (``syncer/review_twins.py``): ``keep``,
  ``update-twin``, ``unlink``.
- ``r:<n>``: a ``review_items`` row: ``guard_trip`` (``accept``: the next run goes ahead once;
  ``dismiss``) or ``duplicate_pair`` (``keep-both``; ``merged``: a person merged them in the
  target).

Every decision is recorded in the store with who (user@host) and when: on the ledger row (as
``callsync writes`` does) or on the review item (``resolved_at``, ``resolution``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import connectors
from syncer import settle
from syncer.config import CallsyncConfig
from syncer.model import Call, Party
from syncer.review_twins import TWIN_DISAGREES, Disagreement, disagreements, link_lookalike
from syncer.store import ledger, repo
from syncer.store.review import DUPLICATE_PAIR, GUARD_TRIP, review_t
from syncer.store.tables import CallRow
from syncer.store.twins import Tolerances
from syncer.store.upsert import insert_for

calls_t = cast(sa.Table, CallRow.__table__)

AMBIGUOUS = "ambiguous_identity"
IN_DOUBT = "in_doubt"
LOOKALIKES = "lookalike_twins"
KINDS = (AMBIGUOUS, IN_DOUBT, LOOKALIKES, TWIN_DISAGREES, GUARD_TRIP, DUPLICATE_PAIR)
WRITES = (AMBIGUOUS, IN_DOUBT, LOOKALIKES)  # items of a ledger row (``w:`` ids)
OPTIONS: dict[str, tuple[str, ...]] = {
    AMBIGUOUS: ("retry", "skip"),  # and the candidates, where the target takes a choice
    IN_DOUBT: settle.DECISIONS,
    LOOKALIKES: ("skip",),  # and the records it could be: the one chosen is linked
    TWIN_DISAGREES: ("keep", "update-twin", "unlink"),
    GUARD_TRIP: ("accept", "dismiss"),
    DUPLICATE_PAIR: ("keep-both", "merged"),
}
CHOICE_KEY = "review:choice:{}"  # connector state of the target: the person chosen for a call
_CANDIDATES = re.compile(r"\(candidates: ([^)]*)\)\s*$")  # as ``syncer/push.py`` words them


class ReviewError(Exception):
    """No such item waits, or it does not take that option."""


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    connection: str
    call_uid: str | None
    why: str
    options: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stamp() -> str:
    return f"{settle.who()} at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"


def tolerances_of(config: CallsyncConfig) -> Tolerances:
    """The twin-matching tolerances the config sets (what a disagreeing twin exceeds)."""
    return Tolerances(config.matching.start_tolerance, config.matching.duration_tolerance_seconds)


def takes_choice(kind: str | None) -> bool:
    """Whether connectors of ``kind`` log a call against the person a reviewer chose."""
    if kind is None:
        return False
    dotted = connectors.entry(kind).connector
    return dotted is not None and bool(connectors.load(dotted).takes_chosen_person)


def candidates(reason: str | None) -> tuple[str, ...]:
    found = _CANDIDATES.search(reason or "")
    return tuple(part.strip() for part in found.group(1).split(",")) if found else ()


# --- listing -----------------------------------------------------------------------------------


def items(
    engine: Engine,
    kinds: Mapping[str, str],
    tolerances: Tolerances,
    *,
    kind: str | None = None,
    connection: str | None = None,
) -> list[Item]:
    """What waits for a person. ``kinds``: connection name -> vendor kind (from the config)."""
    found: list[Item] = []
    with engine.connect() as conn:
        if kind is None or kind in WRITES:
            found += _write_items(conn, kinds, connection)
        if kind in (None, TWIN_DISAGREES):
            found += [_twin_item(d) for d in disagreements(conn, tolerances, connection)]
        if kind not in (*WRITES, TWIN_DISAGREES):
            found += _review_items(conn, kind, connection)
    return [item for item in found if kind is None or item.kind == kind]


def counts(engine: Engine, tolerances: Tolerances) -> dict[str, int]:
    """Items waiting per kind (for ``callsync status``)."""
    waiting: dict[str, int] = {}
    for item in items(engine, {}, tolerances):
        waiting[item.kind] = waiting.get(item.kind, 0) + 1
    return waiting


def _write_rows(conn: Connection, connection: str | None) -> list[Any]:
    links = ledger.links_t
    ambiguous = sa.and_(links.c.state == ledger.PARKED, links.c.reason.like("%(candidates: %"))
    stmt = (
        sa.select(links, calls_t.c.data)
        .join(calls_t, calls_t.c.call_uid == links.c.call_uid)
        .where(sa.or_(links.c.state == ledger.NEEDS_REVIEW, ambiguous))
        .order_by(links.c.target_connection, links.c.call_uid)
    )
    if connection is not None:
        stmt = stmt.where(links.c.target_connection == connection)
    return list(conn.execute(stmt))


def _write_items(conn: Connection, kinds: Mapping[str, str], connection: str | None) -> list[Item]:
    found = []
    for row in _write_rows(conn, connection):
        evidence = {"call": _call_summary(row.data), "attempts": row.attempts}
        evidence |= row.evidence or {}
        item_id = f"w:{row.target_connection}:{row.call_uid}"
        if row.state == ledger.NEEDS_REVIEW:
            # Several records of the target's own could be the call (the twin search's
            # look-alikes, ``syncer/planner.py``): a person links one; else a write in doubt.
            alike = tuple((row.evidence or {}).get("candidates") or ())
            kind, options = (
                (LOOKALIKES, alike + OPTIONS[LOOKALIKES])
                if alike
                else (IN_DOUBT, OPTIONS[IN_DOUBT])
            )
            found.append(
                Item(
                    item_id,
                    kind,
                    row.target_connection,
                    row.call_uid,
                    row.reason or "",
                    options,
                    evidence,
                )
            )
            continue
        people = candidates(row.reason)
        pinnable = takes_choice(kinds.get(row.target_connection))
        options = (people if pinnable else ()) + OPTIONS[AMBIGUOUS]
        evidence |= {"candidates": list(people), "choice_taken": pinnable}
        found.append(
            Item(
                item_id,
                AMBIGUOUS,
                row.target_connection,
                row.call_uid,
                row.reason or "",
                options,
                evidence,
            )
        )
    return found


def _call_summary(data: dict[str, Any]) -> dict[str, Any]:
    call = Call.model_validate(data)
    return {
        "source": f"{call.source.connection} {call.source.external_id}",
        "started_at": call.started_at.isoformat(),
        "direction": call.direction.value if call.direction else None,
        "to": call.to_number.e164 if call.to_number else None,
        "from": call.from_number.e164 if call.from_number else None,
        "user": call.user.email if call.user else None,
        "contact": (call.contact.name or call.contact.email) if call.contact else None,
        "outcome": call.outcome.value,
    }


def _twin_item(found: Disagreement) -> Item:
    evidence = {"source": found.source, "twin": found.twin, "twin_call": found.twin_uid}
    return Item(
        f"t:{found.target}:{found.call_uid}",
        TWIN_DISAGREES,
        found.target,
        found.call_uid,
        f"linked twin {found.remote_id} differs: {'; '.join(found.differences)}",
        OPTIONS[TWIN_DISAGREES],
        evidence,
    )


def _review_items(conn: Connection, kind: str | None, connection: str | None) -> list[Item]:
    stmt = sa.select(review_t).where(
        review_t.c.resolved_at.is_(None), review_t.c.kind != TWIN_DISAGREES
    )
    if kind is not None:
        stmt = stmt.where(review_t.c.kind == kind)
    if connection is not None:
        stmt = stmt.where(review_t.c.connection == connection)
    return [_review_item(row) for row in conn.execute(stmt.order_by(review_t.c.id))]


def _review_item(row: Any) -> Item:
    detail = dict(row.detail or {})
    why = str(detail.get("why") or detail.get("reason") or row.kind.replace("_", " "))
    evidence = {"subject": row.subject, "other": row.other, "found_at": row.created_at.isoformat()}
    return Item(
        f"r:{row.id}",
        row.kind,
        row.connection,
        row.subject if row.kind == DUPLICATE_PAIR else None,
        why,
        OPTIONS.get(row.kind, ("dismiss",)),
        evidence | detail,
    )


# --- settling ----------------------------------------------------------------------------------


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


# --- what the push engine asks ------------------------------------------------------------------


def with_choice(conn: Connection, target: str, kind: str, call: Call) -> Call:
    """``call`` naming the person a reviewer chose for it in ``target`` (unchanged if none):
    connectors that take a choice read it from ``contact.ids[kind]``."""
    key = CHOICE_KEY.format(call.call_uid)
    stored = repo.get_state(conn, target, [key]).get(key)
    if not stored:
        return call
    contact = call.contact or Party()
    ids = {**contact.ids, kind: str(stored["person"])}
    return call.model_copy(update={"contact": contact.model_copy(update={"ids": ids})})
