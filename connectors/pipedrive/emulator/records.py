"""Pipedrive records as documents: ids, builders and renderers (pure functions, no state).

Documents are stored in Pipedrive's own response shape; keys starting with ``_`` are internal
(sort keys, links) and never leave the emulator.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.pipedrive.emulator.wire import hms, iso_millis, rfc3339, utc_clock, utc_date

COMPANY_ID = 7265411
COMPANY_NAME = "Callsync Demo Inc."

# Activity types of a fresh Pipedrive company (``GET /v1/activityTypes``; key_string is what
# v2 activities carry in ``type``).
ACTIVITY_TYPES = (
    ("call", "Call"),
    ("meeting", "Meeting"),
    ("task", "Task"),
    ("deadline", "Deadline"),
    ("email", "Email"),
    ("lunch", "Lunch"),
)
ACTIVITY_TYPE_KEYS = frozenset(key for key, _ in ACTIVITY_TYPES)

# First ids per kind, so ids look like Pipedrive's and kinds never collide in a test's eyes.
FIRST_ID = {
    "user": 13_500_001,
    "org": 501,
    "person": 1001,
    "deal": 301,
    "activity": 7001,
    "call_log": 1,
    "lead": 1,
}

# Optional call-log strings are left out of the object when unset, as in the official list
# example; the integer links (person_id, org_id, deal_id) arrive as null instead (issue 3 quirk).
OMITTED_WHEN_UNSET = frozenset({"subject", "duration", "from_phone_number", "lead_id", "note"})


def demo_api_token(user_key: str) -> str:
    """A user's deterministic 40-hex API token (Pipedrive tokens are 40 hex characters)."""
    return hashlib.sha1(f"callsync-demo-pipedrive:{user_key}".encode()).hexdigest()  # noqa: S324


def call_log_id(serial: int) -> str:
    """A 32-hex string id like ``3cde3b05035cae14dcfc172bd8000d08`` (§2.3: ids are strings)."""
    return hashlib.blake2b(f"{COMPANY_ID}:call-log:{serial}".encode(), digest_size=16).hexdigest()


def lead_uuid(serial: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"callsync-demo/pipedrive/lead/{serial}"))


# Keys the emulator keeps beside Pipedrive's own fields (sort keys, links); never sent.
INTERNAL_KEYS = ("_due", "_call_log_id")


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored document without its internal keys (popping a fixed set keeps a
    500-record page cheap)."""
    rendered = dict(doc)
    for key in INTERNAL_KEYS:
        rendered.pop(key, None)
    return rendered


def render_call_log(doc: dict[str, Any]) -> dict[str, Any]:
    rendered = public(doc)
    for key in OMITTED_WHEN_UNSET:
        if rendered.get(key, 0) is None:
            del rendered[key]
    return rendered


def render_activity(doc: dict[str, Any], *, attendees: bool = False) -> dict[str, Any]:
    """v2 activity; ``attendees`` only with ``include_fields=attendees`` (§2.4)."""
    rendered = public(doc)
    if not attendees:
        rendered.pop("attendees", None)
    return rendered


def blank_activity(
    activity_id: int, type_key: str, owner_id: int, added: datetime
) -> dict[str, Any]:
    """A v2 activity with every documented field at its empty value."""
    stamp = rfc3339(added)
    return {
        "id": activity_id,
        "subject": dict(ACTIVITY_TYPES).get(type_key, type_key),
        "type": type_key,
        "owner_id": owner_id,
        "creator_user_id": owner_id,
        "is_deleted": False,
        "add_time": stamp,
        "update_time": stamp,
        "deal_id": None,
        "lead_id": None,
        "person_id": None,
        "org_id": None,
        "project_id": None,
        "due_date": None,
        "due_time": None,
        "duration": None,
        "busy": False,
        "done": False,
        "marked_as_done_time": None,
        "location": None,
        "participants": [],
        "attendees": [],
        "conference_meeting_client": None,
        "conference_meeting_url": None,
        "conference_meeting_id": None,
        "public_description": None,
        "priority": None,
        "note": None,
        "_due": "",
        "_call_log_id": None,
    }


def set_due(activity: dict[str, Any], due: datetime) -> None:
    activity["due_date"] = utc_date(due)
    activity["due_time"] = utc_clock(due)
    activity["_due"] = f"{activity['due_date']} {activity['due_time']}"


def set_participant(activity: dict[str, Any], person_id: int | None) -> None:
    """``person_id`` is read-only on v2 activities: it is the primary participant (§2.4)."""
    activity["person_id"] = person_id
    activity["participants"] = (
        [] if person_id is None else [{"person_id": person_id, "primary": True}]
    )


def mark_done(activity: dict[str, Any], done: bool, when: datetime) -> None:
    activity["done"] = done
    activity["marked_as_done_time"] = rfc3339(when) if done else None


@dataclass(frozen=True)
class CallLogInput:
    """A validated ``POST /v1/callLogs`` body (see calllogs.validate_call_log)."""

    user_id: int
    outcome: str
    to_phone_number: str
    start: datetime
    end: datetime
    activity_id: int | None = None
    subject: str | None = None
    duration: str | None = None
    from_phone_number: str | None = None
    person_id: int | None = None
    org_id: int | None = None
    deal_id: int | None = None
    lead_id: str | None = None
    note: str | None = None


def build_call_log(serial: int, data: CallLogInput, activity_id: int) -> dict[str, Any]:
    return {
        "id": call_log_id(serial),
        "activity_id": activity_id,
        "user_id": data.user_id,
        "company_id": COMPANY_ID,
        "person_id": data.person_id,
        "org_id": data.org_id,
        "deal_id": data.deal_id,
        "lead_id": data.lead_id,
        "subject": data.subject,
        "duration": data.duration,
        "outcome": data.outcome,
        "from_phone_number": data.from_phone_number,
        "to_phone_number": data.to_phone_number,
        "has_recording": False,
        "start_time": iso_millis(data.start),
        "end_time": iso_millis(data.end),
        "note": data.note,
    }


def build_call_activity(activity_id: int, data: CallLogInput, added: datetime) -> dict[str, Any]:
    """The ``call`` activity Pipedrive wraps around a new call log (§2.6, [P-iss])."""
    activity = blank_activity(activity_id, "call", data.user_id, added)
    activity["subject"] = data.subject or "Call"
    activity["deal_id"] = data.deal_id
    activity["lead_id"] = data.lead_id
    activity["org_id"] = data.org_id
    activity["note"] = data.note
    set_participant(activity, data.person_id)
    set_due(activity, data.start)
    seconds = int(data.duration) if data.duration else int((data.end - data.start).total_seconds())
    activity["duration"] = hms(seconds)
    mark_done(activity, True, added)
    return activity


def person_doc(
    person_id: int,
    name: str,
    phones: list[str],
    emails: list[str],
    org_id: int | None,
    owner_id: int | None,
    added: datetime,
) -> dict[str, Any]:
    """A person in the v2 shape; phones are kept exactly as entered (Pipedrive does not
    normalise them)."""
    first, _, last = name.partition(" ")
    stamp = rfc3339(added)
    return {
        "id": person_id,
        "name": name,
        "first_name": first,
        "last_name": last,
        "owner_id": owner_id,
        "org_id": org_id,
        "add_time": stamp,
        "update_time": stamp,
        "emails": [
            {"value": email, "primary": index == 0, "label": "work"}
            for index, email in enumerate(emails)
        ],
        "phones": [
            {"value": phone, "primary": index == 0, "label": "work" if index == 0 else "mobile"}
            for index, phone in enumerate(phones)
        ],
        "is_deleted": False,
        "visible_to": 3,
        "label_ids": [],
        "picture_id": None,
        "custom_fields": {},
    }


def deal_doc(
    deal_id: int, title: str, person_id: int | None, org_id: int | None, user_id: int | None
) -> dict[str, Any]:
    return {
        "id": deal_id,
        "title": title,
        "person_id": person_id,
        "org_id": org_id,
        "owner_id": user_id,
        "status": "open",
    }


def lead_doc(lead_id: str, title: str, person_id: int | None, org_id: int | None) -> dict[str, Any]:
    return {"id": lead_id, "title": title, "person_id": person_id, "organization_id": org_id}
