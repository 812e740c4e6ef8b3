"""The review queue: everything that needs a person, with its evidence (settling one is
``syncer/review_resolve.py``).

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import connectors
from syncer import settle
from syncer.config import CallsyncConfig
from syncer.model import Call
from syncer.review_twins import TWIN_DISAGREES, Disagreement, disagreements
from syncer.store import ledger
from syncer.store.review import DUPLICATE_PAIR, GUARD_TRIP, review_t
from syncer.store.tables import CallRow
from syncer.store.twins import Tolerances

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
