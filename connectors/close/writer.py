"""Logging calls into Close: create, find by marker, update in place, delete (§1.6).

- ``create``: one ``POST /activity/call/`` (``outbound.call_body``), never resent: a lost answer
  is ``AmbiguousWriteError`` and the engine later asks ``find_by_marker``.
- ``find_by_marker``: the created call's ``activity_at`` is the canonical ``started_at`` cut to
  milliseconds, so ``GET /activity/call/?activity_at__gte=T&activity_at__lte=T`` lists only the
  organisation's calls logged at that exact instant (usually one, at most a handful), with
  ``_fields`` limited to id, note, date_created (and the marker custom field). The marker is read
  from the note's last line or the custom field. Cost: one request (another per 100 calls
  sharing that millisecond, at most ``MARKER_PAGES``). Close cannot search notes or custom
  fields on calls, and a ``date_created`` window would need the intent time, which the contract
  does not pass; ``activity_at`` is deterministic from the call itself.
- ``update``: ``GET`` the call, then ``PUT`` only the writable fields that differ (Close's PUT is
  a PATCH). Fields callsync has no value for are left as they are in Close; a custom outcome
  is cleared when the call stops being ``completed``. ``direction`` is not updatable
  (``CannotUpdate``); on calls made through Close's telephony (``source: Close.io``) status and
  duration are locked too (``CannotUpdate``) and media URLs are never touched (changing them
  deletes the recording for good, §1.6 / gotcha e).
- ``delete``: ``DELETE /activity/call/{id}/``; a call already gone counts as deleted.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from connectors.base import CannotUpdate, JsonDict, Resolved, Written
from connectors.close import outbound
from connectors.close.client import CALLS, CloseApi
from connectors.close.marker import split_marker
from connectors.close.settings import CloseSettings
from connectors.close.times import filter_value, parse_time, to_ms
from syncer.errors import AmbiguousWriteError, VendorError
from syncer.mapping import VendorTable
from syncer.model import Call

log = structlog.get_logger("callsync.close")

MARKER_PAGES = 10
MARKER_PAGE = 100
MEDIA = ("recording_url", "voicemail_url")
LOCKED_ON_CLOSE_CALLS = ("status", "duration")
# Keys compared on update, in the order they are checked (direction first: not updatable).
UPDATABLE = (
    "lead_id",
    "contact_id",
    "user_id",
    "status",
    "duration",
    "phone",
    "activity_at",
    "note",
    "outcome_id",
    *MEDIA,
)


class CallWriter:
    def __init__(
        self, api: CloseApi, settings: CloseSettings, table: VendorTable, region: str
    ) -> None:
        self._api = api
        self._settings = settings
        self._table = table
        self._region = region

    def body(self, call: Call, marker: str, resolved: Resolved) -> JsonDict:
        return outbound.call_body(
            call,
            marker,
            resolved.links,
            table=self._table,
            settings=self._settings,
            region=self._region,
        )

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        record = self._api.write("POST", CALLS, self.body(call, marker, resolved))
        remote_id = record.get("id")
        if not isinstance(remote_id, str) or not remote_id:
            raise AmbiguousWriteError("close POST /activity/call/: the answer has no call id")
        return Written(remote_id)

    # --- find_by_marker -------------------------------------------------------------------

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        found: list[JsonDict] = []
        for page in range(MARKER_PAGES):
            records, more = self._api.list_calls(
                self._marker_query(call, page * MARKER_PAGE), fields=self._marker_fields()
            )
            found.extend(record for record in records if self._carries(record, marker))
            if not more:
                break
        if not found:
            return None
        found.sort(key=lambda record: (str(record.get("date_created") or ""), record["id"]))
        if len(found) > 1:
            # Cannot happen through callsync (one create per intent); keep the oldest.
            log.warning("close.marker_twice", marker=marker, ids=[r["id"] for r in found])
        return str(found[0]["id"])

    def _marker_fields(self) -> str:
        fields = ["id", "note", "date_created"]
        if self._settings.marker_custom_field_id:
            fields.append(f"custom.{self._settings.marker_custom_field_id}")
        return ",".join(fields)

    @staticmethod
    def _marker_query(call: Call, skip: int) -> dict[str, str | int]:
        instant = filter_value(call.started_at)
        query: dict[str, str | int] = {
            "activity_at__gte": instant,
            "activity_at__lte": instant,
            "_limit": MARKER_PAGE,
        }
        if skip:
            query["_skip"] = skip
        return query

    def _carries(self, record: JsonDict, marker: str) -> bool:
        if not isinstance(record.get("id"), str):
            return False
        note = record.get("note")
        if isinstance(note, str) and split_marker(note)[1] == marker:
            return True
        field = self._settings.marker_custom_field_id
        return field is not None and record.get(f"custom.{field}") == marker

    # --- update / delete ------------------------------------------------------------------

    def update(self, remote_id: str, call: Call, marker: str, resolved: Resolved) -> JsonDict:
        """Send the changed fields; returns what was sent (empty: nothing differed)."""
        current = self._api.get(f"{CALLS}{remote_id}/", {})
        wanted = self.body(call, marker, resolved)
        changes = changed_fields(current, wanted)
        if changes:
            self._api.write("PUT", f"{CALLS}{remote_id}/", changes)
        return changes

    def delete(self, remote_id: str) -> None:
        try:
            self._api.write("DELETE", f"{CALLS}{remote_id}/")
        except VendorError as error:
            if error.status != 404:
                raise
            log.info("close.delete_gone", remote_id=remote_id)


def changed_fields(current: Mapping[str, object], wanted: Mapping[str, object]) -> JsonDict:
    """The PUT body that turns ``current`` into ``wanted``, or ``CannotUpdate``."""
    close_made = current.get("source") == "Close.io"
    if "direction" in wanted and wanted["direction"] != current.get("direction"):
        raise CannotUpdate("direction", "Close does not accept direction on update")
    changes: JsonDict = {}
    for key in UPDATABLE:
        if key not in wanted or _same(key, current.get(key), wanted[key]):
            continue
        if close_made and key in MEDIA:
            continue  # changing media of a Close-made call deletes the recording for good
        if close_made and key in LOCKED_ON_CLOSE_CALLS:
            raise CannotUpdate(key, "locked on calls made through Close's telephony")
        changes[key] = wanted[key]
    if current.get("outcome_id") and wanted.get("status", current.get("status")) != "completed":
        changes["outcome_id"] = None  # only connected calls carry an outcome (§1.7)
    custom = [key for key in wanted if key.startswith("custom.") and key not in current]
    changes.update({key: wanted[key] for key in custom})
    return changes


def _same(key: str, current: object, wanted: object) -> bool:
    if key == "activity_at" and isinstance(current, str) and isinstance(wanted, str):
        try:
            return to_ms(parse_time(current)) == to_ms(parse_time(wanted))
        except ValueError:
            return False
    return current == wanted
