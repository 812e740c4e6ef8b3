"""``/api/v2/activities``: the incremental backbone (vendor-apis §2.4, §2.7, §2.8).

- List: ``updated_since`` (inclusive) / ``updated_until`` (exclusive), ``sort_by`` id |
  update_time | add_time | due_date, ``sort_direction``, owner/deal/lead/person/org/done/ids
  filters, ``limit`` (default 100, max 500), opaque ``cursor`` -> ``additional_data.next_cursor``
  (null on the last page). No ``type`` filter: calls are mixed with meetings and tasks.
- Get, create, patch (bumps ``update_time``), delete (soft: ``is_deleted`` + bumped
  ``update_time``; purged ``purge_after_days`` later).
- Visibility: an admin token lists (and gets) every user's activities; any other token only
  its own user's. UNCONFIRMED: Pipedrive's visibility groups decide what a non-admin sees
  (often more than their own); the emulator takes the strict reading, so callsync never
  counts on a non-admin token showing other users' calls.
- UNCONFIRMED whether the list returns soft-deleted activities: the emulator DOES list them, with
  ``is_deleted: true``, until they are purged (a client must check the flag, and must not rely
  on ever seeing a delete older than the purge window). GET of one still answers it; PATCH and a
  second DELETE answer 404.

Paging is keyset over the indexed sort key plus insertion order, so a page costs O(limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.emulation import EmuRequest, EmuResponse
from connectors.pipedrive.emulator.records import (
    ACTIVITY_TYPE_KEYS,
    ACTIVITY_TYPES,
    blank_activity,
    render_activity,
    set_participant,
)
from connectors.pipedrive.emulator.store import PipedriveStore
from connectors.pipedrive.emulator.wire import (
    bad_request,
    bool_arg,
    decode_cursor,
    encode_cursor,
    not_found,
    ok,
    optional_int_arg,
    parse_rfc3339,
    request_json,
    rfc3339,
    rfc3339_ceiling,
    v2_limit,
)

TYPES_ADDED = "2020-01-01 00:00:00"  # when the demo company was created

SORT_KEYS: dict[str, str | None] = {
    "id": None,  # ids grow with insertion order, so the scan's own order is id order
    "update_time": "update_time",
    "add_time": "add_time",
    "due_date": "_due",
}

# Writable v2 fields and their JSON types. ``person_id`` is read-only (set via participants).
WRITABLE: dict[str, tuple[type, ...]] = {
    "subject": (str,),
    "type": (str,),
    "owner_id": (int,),
    "deal_id": (int,),
    "lead_id": (str,),
    "org_id": (int,),
    "project_id": (int,),
    "due_date": (str,),
    "due_time": (str,),
    "duration": (str,),
    "busy": (bool,),
    "done": (bool,),
    "location": (dict,),
    "participants": (list,),
    "attendees": (list,),
    "public_description": (str,),
    "priority": (int,),
    "note": (str,),
}


def check_activity_body(body: Any) -> dict[str, Any]:
    """Reject unknown/read-only keys and wrong JSON types (UNCONFIRMED how strict v2 is)."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    for key, value in body.items():
        if key not in WRITABLE:
            raise bad_request(f"Validation failed: {key}: Unrecognized or read-only field")
        if value is None:
            continue
        types = WRITABLE[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise bad_request(f"Validation failed: {key}: Invalid type")
    if "type" in body and body["type"] not in ACTIVITY_TYPE_KEYS:
        raise bad_request(f"Validation failed: type: Unknown activity type {body['type']!r}")
    return body


def apply_changes(activity: dict[str, Any], changes: dict[str, Any], now_stamp: str) -> None:
    for key, value in changes.items():
        if key == "participants":
            primary = next((p for p in value if isinstance(p, dict) and p.get("primary")), None)
            set_participant(activity, primary.get("person_id") if primary else None)
            activity["participants"] = value
        elif key == "done":
            activity["done"] = bool(value)
            activity["marked_as_done_time"] = now_stamp if value else None
        else:
            activity[key] = value
    if "due_date" in changes or "due_time" in changes:
        due_date, due_time = activity.get("due_date"), activity.get("due_time")
        activity["_due"] = f"{due_date} {due_time or '00:00:00'}" if due_date else ""
    activity["update_time"] = now_stamp


def field_equals(name: str, wanted: object) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: bool(doc.get(name) == wanted)


def parse_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise bad_request("Validation failed: id: Expected number") from None


class ActivityRoutes:
    def __init__(self, store: PipedriveStore, *, page_max: int, purge_after_days: int) -> None:
        self.store = store
        self.page_max = page_max
        self.purge_after_days = purge_after_days

    # --- list ---------------------------------------------------------------------------------

    def list_activities(
        self, user: dict[str, Any], request: EmuRequest, __: dict[str, str]
    ) -> EmuResponse:
        self.store.purge_expired(self.purge_after_days)
        limit = v2_limit(request, self.page_max)
        sort_by = request.arg("sort_by") or "id"
        direction = request.arg("sort_direction") or "asc"
        if sort_by not in SORT_KEYS:
            raise bad_request(f"Validation failed: sort_by: must be one of {', '.join(SORT_KEYS)}")
        if direction not in ("asc", "desc"):
            raise bad_request("Validation failed: sort_direction: must be one of asc, desc")
        scan = self._scan_arguments(request, sort_by, direction)
        if not user["is_admin"]:
            if scan.get("owner", user["id"]) != user["id"]:
                return ok([], {"next_cursor": None})  # another user's: not visible
            scan["owner"] = user["id"]
        found, more = self.store.activities.page(limit, **scan)
        include = "attendees" in (request.arg("include_fields") or "").split(",")
        data = [render_activity(stored.doc, attendees=include) for stored in found]
        next_cursor = None
        if more and found:
            last = found[-1]
            key = SORT_KEYS[sort_by]
            value = last.doc["id"] if key is None else last.doc[key]
            next_cursor = encode_cursor(
                {
                    "field": sort_by,
                    "fieldValue": value,
                    "sortDirection": direction,
                    "id": last.doc["id"],
                    "seq": last.seq,
                }
            )
        return ok(data, {"next_cursor": next_cursor})

    def _scan_arguments(self, request: EmuRequest, sort_by: str, direction: str) -> dict[str, Any]:
        key = SORT_KEYS[sort_by]
        since, until = self._time_bounds(request)
        scan: dict[str, Any] = {"order_by": key, "descending": direction == "desc"}
        checks: list[Callable[[dict[str, Any]], bool]] = []
        if key == "update_time":
            # The bounds ride the index when the list is sorted by update_time (the
            # recommended incremental query), so a page never walks history.
            scan["gte"], scan["lt"] = since, until
        else:
            if since is not None:
                checks.append(lambda doc: doc["update_time"] >= since)
            if until is not None:
                checks.append(lambda doc: doc["update_time"] < until)
        owner = optional_int_arg(request, "owner_id")
        if owner is not None:
            scan["owner"] = owner
        checks.extend(self._filters(request))
        if key is None and request.arg("ids"):
            # ids grow with insertion order: bound the walk to the seqs of the wanted ids
            # instead of filtering the whole history.
            self._bound_to_ids(request, scan)
        if checks:
            scan["where"] = lambda doc: all(check(doc) for check in checks)
        cursor = request.arg("cursor")
        if cursor:
            scan["after"] = self._position(cursor, sort_by, direction)
        return scan

    @staticmethod
    def _time_bounds(request: EmuRequest) -> tuple[str | None, str | None]:
        bounds: list[str | None] = []
        for name in ("updated_since", "updated_until"):
            raw = request.arg(name)
            if not raw:
                bounds.append(None)
                continue
            moment = parse_rfc3339(raw)
            if moment is None:
                raise bad_request(f"Validation failed: {name}: must be an RFC3339 date-time")
            bounds.append(rfc3339_ceiling(moment))
        return bounds[0], bounds[1]

    @staticmethod
    def _filters(request: EmuRequest) -> list[Callable[[dict[str, Any]], bool]]:
        checks: list[Callable[[dict[str, Any]], bool]] = []
        for name in ("deal_id", "person_id", "org_id"):
            wanted = optional_int_arg(request, name)
            if wanted is not None:
                checks.append(field_equals(name, wanted))
        lead = request.arg("lead_id")
        if lead:
            checks.append(field_equals("lead_id", lead))
        done = bool_arg(request, "done")
        if done is not None:
            checks.append(field_equals("done", done))
        ids = request.arg("ids")
        if ids:
            wanted_ids = {parse_id(part) for part in ids.split(",") if part}
            if len(wanted_ids) > 100:
                raise bad_request("Validation failed: ids: at most 100 ids")
            checks.append(lambda doc: doc["id"] in wanted_ids)
        return checks

    def _bound_to_ids(self, request: EmuRequest, scan: dict[str, Any]) -> None:
        wanted = {parse_id(part) for part in (request.arg("ids") or "").split(",") if part}
        seqs = [seq for seq in map(self.store.activities.seq_of, wanted) if seq is not None]
        scan["gte"], scan["lte"] = (min(seqs), max(seqs)) if seqs else (1, 0)

    @staticmethod
    def _position(cursor: str, sort_by: str, direction: str) -> tuple[Any, int]:
        payload = decode_cursor(cursor)
        if payload.get("field") != sort_by or payload.get("sortDirection") != direction:
            raise bad_request("Invalid cursor: it belongs to a different sort")
        seq = payload.get("seq")
        if not isinstance(seq, int):
            raise bad_request("Invalid cursor")
        return payload.get("fieldValue"), seq

    # --- single activities ----------------------------------------------------------------------

    def get(self, user: dict[str, Any], request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        self.store.purge_expired(self.purge_after_days)
        activity = self.store.activity(parse_id(params["id"]))
        if activity is None or not (user["is_admin"] or activity["owner_id"] == user["id"]):
            raise not_found("Activity not found")
        include = "attendees" in (request.arg("include_fields") or "").split(",")
        return ok(render_activity(activity, attendees=include))

    def create(self, user: dict[str, Any], request: EmuRequest, _: dict[str, str]) -> EmuResponse:
        body = check_activity_body(request_json(request))
        now = self.store.now()
        activity = blank_activity(
            self.store.allocate("activity"), body.get("type") or "task", user["id"], now
        )
        activity["owner_id"] = body.get("owner_id") or user["id"]
        apply_changes(activity, {k: v for k, v in body.items() if k != "owner_id"}, rfc3339(now))
        if not body.get("subject"):
            activity["subject"] = dict(ACTIVITY_TYPES)[activity["type"]]
        self.store.put_activity(activity)
        return ok(render_activity(activity))

    def patch(self, _: dict[str, Any], request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        activity = self._live(params["id"])
        changes = check_activity_body(request_json(request))
        apply_changes(activity, changes, rfc3339(self.store.now()))
        self.store.put_activity(activity)
        self.store.sync_call_log_from_activity(activity)
        return ok(render_activity(activity))

    def delete(self, _: dict[str, Any], __: EmuRequest, params: dict[str, str]) -> EmuResponse:
        activity = self._live(params["id"])
        self.store.soft_delete_activity(activity)
        return ok({"id": activity["id"]})

    def _live(self, raw_id: str) -> dict[str, Any]:
        self.store.purge_expired(self.purge_after_days)
        activity = self.store.activity(parse_id(raw_id))
        if activity is None or activity["is_deleted"]:
            raise not_found("Activity not found")
        return activity


def activity_types() -> list[dict[str, Any]]:
    """``GET /v1/activityTypes``: the company's types; match ``key_string`` (normally ``call``)."""
    return [
        {
            "id": index,
            "order_nr": index,
            "name": name,
            "key_string": key,
            "icon_key": key,
            "active_flag": True,
            "color": None,
            "is_custom_flag": False,
            "add_time": TYPES_ADDED,
            "update_time": None,
        }
        for index, (key, name) in enumerate(ACTIVITY_TYPES, start=1)
    ]
