"""``GET /api/v1/activity/call/``: the offset-paginated call list (§1.5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.emulation import EmuRequest, EmuResponse
from connectors.emulation.state import Collection

from ._call_rules import LAZY_FIELDS
from ._support import (
    ORG_ID,
    id_list,
    micros,
    offset_paging,
    parse_filter_time,
    project,
    requested_fields,
    tz_offset,
)


@dataclass(frozen=True)
class ListSettings:
    max_limit: int = 100
    max_skip: int = 250_000


class CallQuery:
    """``GET /activity/call/``: offset pagination over ``date_created`` (newest first).

    Ordering is not documented; we serve newest first by ``date_created`` (by ``activity_at``
    when only ``activity_at`` filters are given, as on Close's generic activity list where "you
    can only use the date-based filters of the field you're sorting on"). Newest first is the
    stricter choice: calls created during a walk shift every later ``_skip`` offset.
    Unknown parameters (e.g. a ``date_updated__gt`` that does not exist on calls, gotcha h) are
    ignored, as Django-style APIs do: a connector relying on them silently gets everything.
    """

    def __init__(self, calls: Collection, settings: ListSettings) -> None:
        self.calls = calls
        self.settings = settings

    def run(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        limit, skip = offset_paging(request, self.settings.max_limit, self.settings.max_skip)
        zone = tz_offset(request)
        created = _bounds(request, "date_created", zone)
        activity = _bounds(request, "activity_at", zone)
        order_key, bounds, other = ("created", created, activity)
        if activity and not created:
            order_key, bounds, other = ("activity", activity, created)
        other_key = "activity" if order_key == "created" else "created"
        where = _call_filter(request, other_key, other)
        leads = id_list(request.arg("lead_id"))
        owner = leads[0] if len(leads) == 1 else None
        scan: dict[str, Any] = {"order_by": order_key, "descending": True, "owner": owner, **bounds}
        if skip:
            position = (
                skip_position(self.calls, scan, skip)
                if where is None
                else _iterate_to(self.calls, scan, where, skip)
            )
            if position is None:  # fewer than `skip` rows: an empty last page
                return EmuResponse.json(200, {"data": [], "has_more": False})
            scan["after"] = position
        items, more = self.calls.page(limit, **scan, where=where)
        fields = requested_fields(request)
        data = [project(stored.doc["rec"], fields, LAZY_FIELDS) for stored in items]
        return EmuResponse.json(200, {"data": data, "has_more": more})


def _bounds(request: EmuRequest, name: str, zone: Any) -> dict[str, int]:
    found = {}
    for op in ("gt", "gte", "lt", "lte"):
        raw = request.arg(f"{name}__{op}")
        if raw:
            found[op] = micros(parse_filter_time(raw, zone, f"{name}__{op}"))
    return found


def _call_filter(
    request: EmuRequest, other_key: str, other_bounds: dict[str, int]
) -> Callable[[dict[str, Any]], bool] | None:
    """The checks the index cannot do: id lists and the second date field's bounds."""
    lists = {
        key: set(id_list(request.arg(param)))
        for key, param in (
            ("id", "id__in"),
            ("lead_id", "lead_id"),
            ("contact_id", "contact_id"),
            ("user_id", "user_id"),
        )
    }
    lists = {key: values for key, values in lists.items() if values}
    organization = request.arg("organization_id")
    type_filter = request.arg("_type")
    if (organization and organization != ORG_ID) or (type_filter and type_filter != "Call"):
        return lambda doc: False
    if not lists and not other_bounds:
        return None

    def matches(doc: dict[str, Any]) -> bool:
        rec = doc["rec"]
        if any(rec.get(key) not in values for key, values in lists.items()):
            return False
        if not other_bounds:
            return True
        value = doc[other_key]
        return value is not None and _within(value, other_bounds)

    return matches


def _within(value: int, bounds: dict[str, int]) -> bool:
    return (
        ("gt" not in bounds or value > bounds["gt"])
        and ("gte" not in bounds or value >= bounds["gte"])
        and ("lt" not in bounds or value < bounds["lt"])
        and ("lte" not in bounds or value <= bounds["lte"])
    )


def _iterate_to(
    calls: Collection, scan: dict[str, Any], where: Callable[[dict[str, Any]], bool], skip: int
) -> tuple[Any, int] | None:
    """The keyset position after ``skip`` matching rows, when a predicate forbids SQL offsets."""
    for seen, stored in enumerate(calls.scan(**scan, where=where), start=1):
        if seen == skip:
            return (stored.doc[scan["order_by"]], stored.seq)
    return None


def skip_position(calls: Collection, scan: dict[str, Any], skip: int) -> tuple[Any, int] | None:
    """The keyset position after ``skip`` rows, found by SQLite's OFFSET on the index alone.

    ``Collection`` has no offset parameter and decoding every skipped JSON document would cost
    O(skip) decodes per page, so this one query reads the framework's ``docs`` table directly
    (columns ``coll``, ``k1..k3``, ``owner``, ``seq``). Suggested upstream: ``scan(offset=)``.
    """
    column = f"k{calls.keys.index(scan['order_by']) + 1}"
    clauses, params = ["coll = ?"], [calls.name]
    for op, symbol in (("gte", ">="), ("gt", ">"), ("lt", "<"), ("lte", "<=")):
        if scan.get(op) is not None:
            clauses.append(f"{column} {symbol} ?")
            params.append(scan[op])
    if scan.get("owner") is not None:
        clauses.append("owner = ?")
        params.append(str(scan["owner"]))
    direction = "DESC" if scan.get("descending") else "ASC"
    sql = (
        f"SELECT {column}, seq FROM docs WHERE {' AND '.join(clauses)} "  # noqa: S608
        f"ORDER BY {column} {direction}, seq {direction} LIMIT 1 OFFSET ?"
    )
    row = calls.db.execute(sql, (*params, skip - 1)).fetchone()
    return None if row is None else (row[0], int(row[1]))
