"""``/v1/callLogs`` (also served at ``/api/v1/callLogs``): list, get, create, delete, recording.

Facts emulated (vendor-apis §2.3, §2.5, §2.6, §2.11; the v1 OpenAPI):
- the list shows only the token user's logs, offset-paged with ``start``/``limit`` (limit at
  most 50) and ``additional_data.pagination``; no date filter, no sort;
- create requires ``to_phone_number``, ``outcome``, ``start_time``, ``end_time`` (``YYYY-MM-DD
  HH:MM:SS`` UTC), takes ``duration`` as a string, a deal xor a lead, answers 200 and wraps the
  log in a new ``call`` activity (or converts the ``call`` activity given as ``activity_id``);
- there is no update endpoint; delete keeps the activity and answers 410 for a log already gone;
- one recording per log (multipart field ``file``), 409 on a second upload.
"""

from __future__ import annotations

import re
from dataclasses import replace
from email import policy
from email.parser import BytesParser
from typing import Any

from connectors.emulation import ApiError, EmuRequest, EmuResponse
from connectors.pipedrive.emulator.records import CallLogInput, render_call_log
from connectors.pipedrive.emulator.store import PipedriveStore
from connectors.pipedrive.emulator.wire import (
    CONFLICT,
    GONE,
    bad_request,
    forbidden,
    int_arg,
    not_found,
    ok,
    parse_v1_time,
    request_json,
)

OUTCOMES = ("connected", "no_answer", "left_message", "left_voicemail", "wrong_number", "busy")

# Request fields in the spec's property order: Pipedrive's validator reports the first failing
# field in that order (its 400 example is ``"outcome" is required.``).
FIELDS = (
    "user_id",
    "activity_id",
    "subject",
    "duration",
    "outcome",
    "from_phone_number",
    "to_phone_number",
    "start_time",
    "end_time",
    "person_id",
    "org_id",
    "deal_id",
    "lead_id",
    "note",
)
REQUIRED = frozenset({"to_phone_number", "outcome", "start_time", "end_time"})
INTEGER_FIELDS = frozenset({"user_id", "activity_id", "person_id", "org_id", "deal_id"})
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_DIGITS = re.compile(r"^\d+$")


def check_types(body: Any) -> dict[str, Any]:
    """Field presence and JSON types, strictly: unknown keys, numbers sent as strings and a
    numeric ``duration`` are all rejected (UNCONFIRMED how lenient Pipedrive's validator is;
    the strict reading keeps clients honest)."""
    if not isinstance(body, dict):
        raise bad_request('"value" must be of type object')
    for key in body:
        if key not in FIELDS:
            raise bad_request(f'"{key}" is not allowed')
    for key in FIELDS:
        value = body.get(key)
        if value is None:
            if key in REQUIRED:
                raise bad_request(f'"{key}" is required.')
            continue
        if key in INTEGER_FIELDS and (not isinstance(value, int) or isinstance(value, bool)):
            raise bad_request(f'"{key}" must be a number')
        if key not in INTEGER_FIELDS and not isinstance(value, str):
            raise bad_request(f'"{key}" must be a string')
    return body


def validate_call_log(body: Any, caller_id: int) -> CallLogInput:
    """A ``POST /v1/callLogs`` body as a ``CallLogInput``, or the 400 Pipedrive answers."""
    fields = check_types(body)
    if fields["outcome"] not in OUTCOMES:
        raise bad_request(f'"outcome" must be one of [{", ".join(OUTCOMES)}]')
    duration = fields.get("duration")
    if duration is not None and not _DIGITS.match(duration):
        raise bad_request('"duration" must be a string of whole seconds')
    start = parse_v1_time(fields["start_time"])
    end = parse_v1_time(fields["end_time"])
    if start is None:
        raise bad_request('"start_time" must be in format YYYY-MM-DD HH:MM:SS')
    if end is None:
        raise bad_request('"end_time" must be in format YYYY-MM-DD HH:MM:SS')
    if end < start:
        # Defensive reading (not documented either way): a call cannot end before it starts.
        raise bad_request('"end_time" must not be before "start_time"')
    if fields.get("deal_id") is not None and fields.get("lead_id") is not None:
        raise bad_request("A call log can be associated with either a deal or a lead, not both.")
    lead_id = fields.get("lead_id")
    if lead_id is not None and not _UUID.match(lead_id):
        raise bad_request('"lead_id" must be a valid UUID')
    return CallLogInput(
        user_id=fields.get("user_id") or caller_id,
        outcome=fields["outcome"],
        to_phone_number=fields["to_phone_number"],
        start=start,
        end=end,
        activity_id=fields.get("activity_id"),
        subject=fields.get("subject"),
        duration=duration,
        from_phone_number=fields.get("from_phone_number"),
        person_id=fields.get("person_id"),
        org_id=fields.get("org_id"),
        deal_id=fields.get("deal_id"),
        lead_id=lead_id,
        note=fields.get("note"),
    )


def resolve_references(
    store: PipedriveStore, data: CallLogInput, caller: dict[str, Any]
) -> CallLogInput:
    """Check owner rights and that every linked record exists; take the links of a converted
    activity (§2.6: deal/person/org are then ignored in favour of the activity's)."""
    if data.user_id != caller["id"]:
        if not caller["is_admin"]:
            raise forbidden()
        if store.user(data.user_id) is None:
            raise not_found()
    if data.activity_id is not None:
        data = _converted(store, data)
    for collection, key in (
        (store.persons, data.person_id),
        (store.orgs, data.org_id),
        (store.deals, data.deal_id),
        (store.leads, data.lead_id),
    ):
        if key is not None and collection.get(key) is None:
            raise not_found()
    return data


def _converted(store: PipedriveStore, data: CallLogInput) -> CallLogInput:
    activity = store.activity(data.activity_id or 0)
    if activity is None or activity["is_deleted"]:
        raise not_found()
    if activity["type"] != "call":
        raise bad_request("The activity_id must refer to a call type activity.")
    if activity.get("_call_log_id"):
        raise bad_request("This activity is already a call log.")
    return replace(
        data,
        deal_id=activity["deal_id"],
        lead_id=activity["lead_id"],
        person_id=activity["person_id"],
        org_id=activity["org_id"],
    )


def uploaded_file(request: EmuRequest) -> tuple[bytes, str, str]:
    """The ``file`` part of a multipart/form-data body: (bytes, filename, content type)."""
    content_type = request.header("content-type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        raise bad_request("Content-Type must be multipart/form-data")
    envelope = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.body
    message = BytesParser(policy=policy.HTTP).parsebytes(envelope)
    if not message.is_multipart():
        raise bad_request("Malformed multipart body")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            return content, part.get_filename() or "recording", part.get_content_type()
    raise bad_request('"file" is required.')


class CallLogRoutes:
    """The handlers; each receives the authenticated user."""

    def __init__(self, store: PipedriveStore, *, page_max: int) -> None:
        self.store = store
        self.page_max = page_max

    def list_call_logs(
        self, user: dict[str, Any], request: EmuRequest, _: dict[str, str]
    ) -> EmuResponse:
        start = int_arg(request, "start", 0)
        # UNCONFIRMED: the default page size; 50, the documented maximum, is assumed. A larger
        # limit is clamped to 50 (pagination.limit says so), as Pipedrive's v1 lists do.
        limit = min(int_arg(request, "limit", self.page_max), self.page_max)
        if start < 0 or limit < 1:
            raise bad_request('"start" must be >= 0 and "limit" >= 1')
        docs, more = self.store.call_log_page(user["id"], start, limit)
        pagination: dict[str, Any] = {
            "start": start,
            "limit": limit,
            "more_items_in_collection": more,
        }
        if more:
            pagination["next_start"] = start + len(docs)
        # v1 lists answer ``data: null`` rather than ``[]`` when there is nothing to list.
        data = [render_call_log(doc) for doc in docs] or None
        return ok(data, {"pagination": pagination})

    def get(self, user: dict[str, Any], _: EmuRequest, params: dict[str, str]) -> EmuResponse:
        return ok(render_call_log(self._own(user, params["id"], other_user=not_found())))

    def create(self, user: dict[str, Any], request: EmuRequest, _: dict[str, str]) -> EmuResponse:
        data = validate_call_log(request_json(request), user["id"])
        data = resolve_references(self.store, data, user)
        return ok(render_call_log(self.store.create_call_log(data)))

    def delete(self, user: dict[str, Any], _: EmuRequest, params: dict[str, str]) -> EmuResponse:
        if self.store.is_deleted_call_log(params["id"]):
            raise ApiError(410, GONE, "The callLog you are trying to access is no longer available")
        log = self._own(user, params["id"], other_user=forbidden())
        self.store.delete_call_log(log)
        return EmuResponse.json(200, {"success": True})

    def add_recording(
        self, user: dict[str, Any], request: EmuRequest, params: dict[str, str]
    ) -> EmuResponse:
        log = self._own(user, params["id"], other_user=not_found())
        content, filename, content_type = uploaded_file(request)
        if log["has_recording"]:
            raise ApiError(409, CONFLICT, "A recording for this call already exists")
        self.store.attach_recording(log, content, filename, content_type)
        return EmuResponse.json(200, {"success": True})

    def _own(self, user: dict[str, Any], log_id: str, *, other_user: ApiError) -> dict[str, Any]:
        """The caller's log. UNCONFIRMED whether an admin may read other users' logs: no token
        sees another user's log here (the strict reading of "assigned to a particular user")."""
        log = self.store.call_log(log_id)
        if log is None:
            raise not_found()
        if log["user_id"] != user["id"]:
            raise other_user
        return log
