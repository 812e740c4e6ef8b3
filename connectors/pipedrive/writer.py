"""Writing calls into Pipedrive: create, update (through the activity), delete.

Facts (vendor-apis close-pipedrive.md §2.3, §2.6, §2.7, §2.11i):
- ``POST /v1/callLogs`` (10 tokens) answers 200 with the log (string ``id``, ``activity_id``);
  it is sent once: a lost or ambiguous answer is the engine's to settle with ``find_by_marker``;
- a call log cannot be updated. Its wrapping activity can: ``PATCH /api/v2/activities/{id}``
  (5 tokens) changes the subject, note, person (``participants``), organization, deal or lead,
  and the read path reads those from the activity. What only the log holds (outcome, times,
  duration, numbers, user) raises :class:`CannotUpdate` naming the first differing field,
  after the activity got what it can hold;
- ``DELETE /v1/callLogs/{id}`` (6 tokens) keeps the activity: it is deleted too
  (``DELETE /api/v2/activities/{id}``, 3 tokens, soft). 404/410 mean already gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import structlog

from connectors.base import CannotUpdate, IdentityCache, JsonDict, Resolved, Written
from connectors.pipedrive import payload
from connectors.pipedrive.client import ACTIVITIES, CALL_LOGS, PipedriveClient
from connectors.pipedrive.records import parse_time
from syncer.errors import AmbiguousWriteError, VendorError
from syncer.mapping import VendorTable
from syncer.model import Call, PhoneNumber

log = structlog.get_logger("callsync.pipedrive")

GONE = (404, 410)


class Writer:
    def __init__(
        self, client: PipedriveClient, cache: IdentityCache, table: VendorTable, region: str
    ) -> None:
        self.client = client
        self.cache = cache
        self.table = table
        self.region = region

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        body = payload.call_log_body(call, marker, resolved, self.table)
        data = self.client.send("POST", CALL_LOGS, json=body, create=True).get("data")
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise AmbiguousWriteError("pipedrive POST /v1/callLogs answered no call-log id")
        log_id = str(data["id"])
        owner = data.get("user_id")
        self.cache.put("log", log_id, {"activity_id": data.get("activity_id"), "user_id": owner})
        return Written(log_id)

    def log_owner(self, log_id: str) -> int | None:
        """The user a log callsync wrote belongs to, as its create answered (no request)."""
        owner = (self.cache.get("log", log_id) or {}).get("user_id")
        return owner if isinstance(owner, int) else None

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        current = self.client.call_log(remote_id)
        if current is None:
            self._update_unreadable(remote_id, call, resolved)
        wanted = payload.call_log_body(call, call.call_uid, resolved, self.table)
        fixed = self._log_differences(current, wanted)
        activity_id = current.get("activity_id")
        if isinstance(activity_id, int):
            self._patch_activity(
                activity_id, payload.activity_fields(call, call.call_uid, resolved)
            )
        if fixed:
            raise CannotUpdate(
                fixed[0], "Pipedrive call logs cannot be changed: " + ", ".join(fixed)
            )

    def delete(self, remote_id: str) -> None:
        activity_id = self._activity_of(remote_id)
        try:
            self.client.send("DELETE", f"{CALL_LOGS}/{remote_id}")
        except VendorError as error:
            if error.status not in GONE:
                raise
        if activity_id is None:
            log.warning("pipedrive.activity_left", call_log=remote_id)
            return
        try:
            self.client.send("DELETE", f"{ACTIVITIES}/{activity_id}")
        except VendorError as error:
            if error.status not in GONE:
                raise

    def _update_unreadable(self, remote_id: str, call: Call, resolved: Resolved) -> NoReturn:
        """A log the token cannot read: Pipedrive shows a call log only to its owner (a log
        written for another rep reads as 404; UNCONFIRMED whether an admin token sees it), or
        it was deleted. Its activity, known from the create, still takes what it can hold; the
        log itself cannot be compared, so it is reported unchangeable (stale), never as a
        failure that every later run would retry."""
        cached = self.cache.get("log", remote_id)
        activity_id = cached.get("activity_id") if cached else None
        if isinstance(activity_id, int):
            self._patch_activity(
                activity_id, payload.activity_fields(call, call.call_uid, resolved)
            )
        raise CannotUpdate(
            "call log",
            f"{remote_id} cannot be read: Pipedrive shows a call log only to its owner"
            " (or it was deleted)",
        )

    # --- helpers --------------------------------------------------------------------------

    def _activity_of(self, log_id: str) -> int | None:
        cached = self.cache.get("log", log_id)
        if cached is not None and isinstance(cached.get("activity_id"), int):
            return int(cached["activity_id"])
        current = self.client.call_log(log_id)
        activity_id = None if current is None else current.get("activity_id")
        if not isinstance(activity_id, int):
            return None
        self.cache.put("log", log_id, {"activity_id": activity_id})
        return activity_id

    def _patch_activity(self, activity_id: int, wanted: JsonDict) -> None:
        current = self.client.get(f"{ACTIVITIES}/{activity_id}").get("data") or {}
        changes = {k: v for k, v in wanted.items() if _activity_value(current, k) != v}
        if changes.get("deal_id") is not None:
            changes["lead_id"] = None  # deal XOR lead (§2.11g)
        if changes.get("lead_id") is not None:
            changes["deal_id"] = None
        if changes:
            self.client.send("PATCH", f"{ACTIVITIES}/{activity_id}", json=changes, idempotent=True)

    def _log_differences(self, current: JsonDict, wanted: JsonDict) -> list[str]:
        """Canonical field names whose value the existing log holds differently."""
        checks: list[tuple[str, str, Callable[[Any], Any]]] = [
            ("outcome", "outcome", str),
            ("started_at", "start_time", _moment),
            ("ended_at", "end_time", _moment),
            ("duration_seconds", "duration", _seconds),
            ("from_number", "from_phone_number", self._number),
            ("to_number", "to_phone_number", self._number),
            ("user", "user_id", _plain),
        ]
        return [
            name
            for name, key, norm in checks
            if key in wanted and norm(current.get(key)) != norm(wanted.get(key))
        ]

    def _number(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        parsed = PhoneNumber.parse(value, self.region)
        return parsed.e164 or value.strip()


def _activity_value(activity: JsonDict, key: str) -> Any:
    value = activity.get(key)
    if key == "participants":
        return [
            {"person_id": p.get("person_id"), "primary": True}
            for p in value or ()
            if isinstance(p, dict) and p.get("primary")
        ]
    return value


def _moment(value: Any) -> Any:
    return parse_time(value) if isinstance(value, str) and value else None


def _seconds(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def _plain(value: Any) -> str | None:
    return None if value is None else str(value)
