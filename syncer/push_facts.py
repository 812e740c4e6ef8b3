"""What the push engine hands the planner, and what it records of a write: conversions between
the config and the ledger's rows and the planner's plain values (``syncer/planner.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from syncer import conflicts, planner
from syncer.config import RouteConfig, RouteFilters
from syncer.model import Call
from syncer.store.ledger import FAILED, PARKED


def passes(filters: RouteFilters, call: Call) -> bool:
    """Whether the route's filters let ``call`` through."""
    return planner.passes(_filters(filters), call)


def _filters(filters: RouteFilters) -> planner.Filters:
    emails = filters.user_emails
    return planner.Filters(
        outcomes=frozenset(filters.outcomes) if filters.outcomes is not None else None,
        directions=frozenset(filters.directions) if filters.directions is not None else None,
        min_duration_seconds=filters.min_duration_seconds,
        user_emails=frozenset(e.lower() for e in emails) if emails is not None else None,
    )


def planned_route(route: RouteConfig) -> planner.Route:
    """What the planner needs of a route."""
    return planner.Route(
        source=route.source,
        filters=_filters(route.filters),
        update_twins=route.write.update_twins,
        recreate_on_change=route.write.recreate_on_change,
        policy=route.conflicts.policy(),
    )


def planned_row(link: Any) -> planner.Row | None:
    """What the planner needs of a ledger row."""
    if link is None:
        return None
    written = link.written_fields or {}
    edits = link.target_edits or {}
    at = edits.get("at")
    return planner.Row(
        state=link.state,
        kind=link.kind,
        remote_id=link.remote_id,
        written_hash=link.written_hash,
        attempts=int(link.attempts or 0),
        next_attempt_at=link.next_attempt_at,
        basis=written.get("basis"),
        held=written.get("held") or {},
        edits=conflicts.Edits(
            edits.get("values") or {}, datetime.fromisoformat(at) if at else None
        ),
    )


def may_create(row: Any) -> bool:
    """Whether the planner may decide a create for ``row``: then it needs the twin search."""
    return row is None or (row.remote_id is None and row.state in (PARKED, FAILED))


def written_fields(
    call: Call, sent: Call, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ledger's field-level record of a write of ``sent`` reconciling ``call``: also when
    it landed (``at``, callsync's clock, taken once the target answered) and, for an update,
    what the target showed of its editable fields before (``previous``, as read back), so a
    pull that read the copy before the write landed is not taken for an edit
    (``syncer/edits.py``)."""
    fields: dict[str, Any] = {
        "basis": conflicts.digests(conflicts.values(call)),
        "held": conflicts.values(sent),
        "at": datetime.now(UTC).isoformat(),
    }
    if previous is not None:
        fields["previous"] = dict(previous)
    return fields


def kept_edits(values: Mapping[str, Any], at: datetime | None) -> dict[str, Any] | None:
    if not values:
        return None
    return {"values": dict(values), "at": at.isoformat() if at else None}
