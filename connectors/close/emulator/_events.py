"""The Close event log (``GET /api/v1/event/``, close-pipedrive.md §1.8) and how events are made.

Emulated:
- events for every create/update/delete of a call (``object_type=activity.call``), and for leads
  and contacts created through the API; ``deleted`` events carry ``data: null`` and the last state
  in ``previous_data``; ``updated`` events list ``changed_fields`` and the previous values;
- **merging**: an ``updated`` event is folded into the object's latest ``updated`` event by the same
  actor when that event was created less than ``merge_window`` seconds ago: same ``id`` and
  ``date_created``, a new ``date_updated``, the union of ``changed_fields``, the first previous
  values and the latest data (UNCONFIRMED window length; Close says "a short time frame");
- **late events**: an event only becomes visible ``delay`` + a deterministic per-event jitter
  (0..``jitter``) seconds after its ``date_updated``, so events can also appear out of order;
  a merged event disappears again until its new ``date_updated`` is old enough;
- newest first by ``date_updated`` (ties: newest write first, so one object's events stay in
  order), ``_cursor`` / ``cursor_next`` / ``cursor_previous``, ``_limit`` default 50, silently
  capped at 50 (the docs say "capped"), 30 days kept;
- only the documented filter combinations (``object_type`` alone answers 400), with optional
  ``date_updated__gt/gte/lt/lte``; no filter at all is accepted (tap-closeio polls that way);
- ``data``/``previous_data`` are dropped for non-admin keys once the event is an hour old.

Not emulated: webhooks, lead-merge and bulk-action events, ``answered``/``completed`` call events.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.emulation import EmuRequest, EmuResponse

from ._call_rules import public
from ._state import Caller, CloseState
from ._support import (
    ORG_ID,
    bad_request,
    decode_cursor,
    encode_cursor,
    int_param,
    iso_naive,
    make_id,
    micros,
    parse_filter_time,
    tz_offset,
)

EVENT_FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")

# §1.8 / developer.close.com events/list: "Only certain combinations of filters are supported".
# The empty combination is not on the list, but tap-closeio polls with only date_updated__gte.
ALLOWED_COMBINATIONS = frozenset(
    frozenset(combo)
    for combo in (
        (),
        ("object_type", "object_id"),
        ("object_type", "action"),
        ("object_id", "action"),
        ("lead_id", "object_type"),
        ("lead_id", "object_type", "action"),
        ("lead_id", "user_id", "object_type"),
        ("lead_id", "user_id", "object_type", "action"),
        ("lead_id", "user_id"),
        ("user_id", "object_id"),
        ("user_id", "object_id", "action"),
        ("user_id", "object_type"),
        ("user_id", "object_type", "action"),
        ("lead_id",),
        ("user_id",),
        ("request_id",),
    )
)

MAX_EVENT_LIMIT = 50
_DATE_OPS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class EventSettings:
    delay_seconds: float = 2.0
    jitter_seconds: float = 3.0
    merge_window_seconds: float = 10.0
    retention_days: int = 30
    data_visible_seconds: float = 3600.0  # non-admins see data/previous_data for one hour


@dataclass(frozen=True)
class Origin:
    """Where a change came from (API request or Close's UI): ``request_id`` and ``meta``."""

    caller: Caller
    method: str
    path: str
    request_id: str


@dataclass(frozen=True)
class Change:
    object_type: str
    object_id: str
    lead_id: str | None
    action: str
    at: datetime
    data: dict[str, Any] | None
    previous_data: dict[str, Any] | None
    changed_fields: list[str]


class EventLog:
    def __init__(self, state: CloseState, settings: EventSettings) -> None:
        self.state = state
        self.settings = settings

    # --- writing ------------------------------------------------------------------------------

    def record(self, change: Change, origin: Origin) -> None:
        """Log ``change``; quick successive updates by one actor merge into one event."""
        if change.action == "updated" and self._merge(change, origin):
            return
        event_id = make_id(
            "ev", f"{change.object_id}:{micros(change.at)}:{self.state.next_token('ev')}", 22
        )
        event = {
            "id": event_id,
            "date_created": iso_naive(change.at),
            "date_updated": iso_naive(change.at),
            "organization_id": ORG_ID,
            "user_id": origin.caller.user_id,
            "request_id": origin.request_id,
            "api_key_id": origin.caller.api_key_id,
            "object_type": change.object_type,
            "object_id": change.object_id,
            "lead_id": change.lead_id,
            "action": change.action,
            "changed_fields": list(change.changed_fields),
            "data": change.data,
            "previous_data": change.previous_data,
            "meta": {"request_method": origin.method, "request_path": origin.path},
        }
        self._store(event, created=change.at, updated=change.at)

    def seed_created(self, call: dict[str, Any], at: datetime) -> None:
        """A ``created`` event for a seeded call, as cheap as possible (seeding is bulk).

        Ids derive from the call's own random id (no hashing, no counter). Its ``data`` is not
        copied but read from the call when served, until the call first changes
        (``freeze_seeded``): the event keeps showing the call as it was created.
        """
        call_id = call["id"]
        stamp = iso_naive(at)
        event: dict[str, Any] = {
            "id": f"ev_{call_id[5:27]}",
            "date_created": stamp,
            "date_updated": stamp,
            "organization_id": ORG_ID,
            "user_id": call["created_by"],
            "request_id": f"req_{call_id[27:49]}",
            "api_key_id": None,
            "object_type": "activity.call",
            "object_id": call_id,
            "lead_id": call["lead_id"],
            "action": "created",
            "changed_fields": [],
            "data": None,
            "previous_data": None,
            "meta": {"request_method": "POST", "request_path": "/api/v1/activity/call/"},
        }
        self._store(event, created=at, updated=at, data_ref=call_id)

    def freeze_seeded(self, call_id: str, snapshot: dict[str, Any]) -> None:
        """Before a seeded call first changes, copy its state into its ``created`` event."""
        for stored in self.state.events.scan(owner=call_id, where=lambda doc: "data_ref" in doc):
            doc = dict(stored.doc)
            del doc["data_ref"]
            doc["event"] = {**doc["event"], "data": snapshot}
            self.state.events.put(stored.id, doc, owner=call_id)

    def _merge(self, change: Change, origin: Origin) -> bool:
        latest = next(
            iter(
                self.state.events.scan(order_by="updated", descending=True, owner=change.object_id)
            ),
            None,
        )
        if latest is None:
            return False
        doc = latest.doc
        event = doc["event"]
        window = timedelta(seconds=self.settings.merge_window_seconds)
        same_actor = (event["user_id"], event["api_key_id"]) == (
            origin.caller.user_id,
            origin.caller.api_key_id,
        )
        created = datetime.fromisoformat(doc["created_at"])
        if event["action"] != "updated" or not same_actor or change.at - created > window:
            return False
        merged_fields = list(event["changed_fields"])
        merged_fields += [name for name in change.changed_fields if name not in merged_fields]
        previous = dict(change.previous_data or {})
        previous.update(event["previous_data"] or {})  # keep the values from before the burst
        event.update(
            changed_fields=merged_fields,
            previous_data=previous,
            data=change.data,
            date_updated=iso_naive(change.at),
        )
        self._store(event, created=created, updated=change.at)
        return True

    def _store(
        self,
        event: dict[str, Any],
        *,
        created: datetime,
        updated: datetime,
        data_ref: str | None = None,
    ) -> None:
        updated_us = micros(updated)
        doc = {
            "event": event,
            "updated": updated_us,
            "created_at": created.isoformat(),
            "visible": updated_us + self._lateness_us(event["id"], updated_us),
        }
        if data_ref is not None:
            doc["data_ref"] = data_ref
        self.state.events.put(event["id"], doc, owner=event["object_id"])

    def _lateness_us(self, event_id: str, updated_us: int) -> int:
        """Deterministic per-event lateness: the delay plus a jitter drawn from the event."""
        fraction = zlib.crc32(f"{event_id}:{updated_us}".encode()) / 2**32
        seconds = self.settings.delay_seconds + fraction * self.settings.jitter_seconds
        return int(seconds * 1_000_000)

    # --- reading: GET /event/ -----------------------------------------------------------------

    def list(self, request: EmuRequest, caller: Caller, now: datetime) -> EmuResponse:
        if request.arg("_skip") is not None:
            # UNCONFIRMED whether Close ignores or rejects it; a loud 400 beats a silent loop.
            raise bad_request("_skip is not supported on the event log; paginate with _cursor.")
        filters = {name: value for name in EVENT_FILTERS if (value := request.arg(name))}
        if frozenset(filters) not in ALLOWED_COMBINATIONS:
            raise bad_request(
                f"Unsupported combination of filters: {', '.join(sorted(filters))}. "
                "See the list of supported filter combinations in the event log docs."
            )
        limit = min(max(int_param(request, "_limit", MAX_EVENT_LIMIT), 1), MAX_EVENT_LIMIT)
        token = request.arg("_cursor")
        cursor = self._read_cursor(token, filters) if token else None
        bounds = cursor["b"] if cursor else self._date_bounds(request)
        now_us = micros(now)
        scan = self._scan_args(filters, bounds, now_us)
        visible = self._predicate(filters, now_us)
        if cursor is not None and cursor["d"] == "prev":
            items, more_newer = self.state.events.page(
                limit, **scan, descending=False, after=(cursor["u"], cursor["s"]), where=visible
            )
            items.reverse()
            more_older, came_from_newer = True, more_newer
        else:
            after = (cursor["u"], cursor["s"]) if cursor else None
            items, more_older = self.state.events.page(
                limit, **scan, descending=True, after=after, where=visible
            )
            came_from_newer = cursor is not None
        context = {"f": _filters_hash(filters), "b": bounds}
        return EmuResponse.json(
            200,
            {
                "data": [self._render(stored.doc, caller, now) for stored in items],
                "cursor_next": _cursor(context, "next", items[-1])
                if items and more_older
                else None,
                "cursor_previous": (
                    _cursor(context, "prev", items[0]) if items and came_from_newer else None
                ),
            },
        )

    def _read_cursor(self, token: str, filters: dict[str, str]) -> dict[str, Any]:
        cursor = decode_cursor(token)
        if cursor.get("f") != _filters_hash(filters) or cursor.get("d") not in ("next", "prev"):
            # The docs: keep sending the same filters (except date_updated) with the cursor.
            raise bad_request("Invalid cursor for these filters: resend the original filters.")
        return cursor

    def _date_bounds(self, request: EmuRequest) -> dict[str, int]:
        zone = tz_offset(request)
        bounds = {}
        for op in _DATE_OPS:
            raw = request.arg(f"date_updated__{op}")
            if raw:
                bounds[op] = micros(parse_filter_time(raw, zone, f"date_updated__{op}"))
        return bounds

    def _scan_args(
        self, filters: dict[str, str], bounds: dict[str, int], now_us: int
    ) -> dict[str, Any]:
        # Nothing newer than now - delay can be visible; nothing older than the retention is kept.
        newest = now_us - int(self.settings.delay_seconds * 1_000_000)
        oldest = now_us - self.settings.retention_days * 86_400 * 1_000_000
        return {
            "order_by": "updated",
            "lte": min(newest, bounds.get("lte", newest)),
            "lt": bounds.get("lt"),
            "gte": max(oldest, bounds.get("gte", oldest)),
            "gt": bounds.get("gt"),
            "owner": filters.get("object_id"),
        }

    @staticmethod
    def _predicate(filters: dict[str, str], now_us: int) -> Callable[[dict[str, Any]], bool]:
        def visible(doc: dict[str, Any]) -> bool:
            if doc["visible"] > now_us:
                return False
            event = doc["event"]
            return all(event.get(name) == value for name, value in filters.items())

        return visible

    def _render(self, doc: dict[str, Any], caller: Caller, now: datetime) -> dict[str, Any]:
        event = dict(doc["event"])
        age = now - datetime.fromisoformat(doc["created_at"])
        if not caller.is_admin and age.total_seconds() > self.settings.data_visible_seconds:
            # "For non-admins, this field is only returned for events less than one hour old."
            event.pop("data", None)
            event.pop("previous_data", None)
        elif doc.get("data_ref"):
            call = self.state.calls.get(doc["data_ref"])
            event["data"] = None if call is None else public(call["rec"])
        return event


def _filters_hash(filters: dict[str, str]) -> str:
    text = "&".join(f"{key}={filters[key]}" for key in sorted(filters))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cursor(context: dict[str, Any], direction: str, stored: Any) -> str:
    return encode_cursor({**context, "d": direction, "u": stored.doc["updated"], "s": stored.seq})
