"""Canonical call -> Pipedrive: the ``POST /v1/callLogs`` body, the activity a changed call
patches, and the marker every created call log carries.

Facts relied on (vendor-apis close-pipedrive.md §2.3, §2.5, §2.6, §2.7, §2.11):
- required ``to_phone_number``, ``outcome`` (six values, via ``mappings/pipedrive.yaml``),
  ``start_time`` and ``end_time`` as ``YYYY-MM-DD HH:MM:SS`` in UTC; ``end = start + duration``;
  ``duration`` a string of whole seconds;
- optional ``user_id`` (another user's call needs an admin token), ``subject``,
  ``from_phone_number``, ``person_id``, ``org_id``, ``deal_id`` XOR ``lead_id`` (a UUID), and
  ``note`` (HTML);
- no direction, disposition, purpose, call method, sequence, transcript, tags, cost or
  recording-URL field exists: those are not written (the recording is uploaded as a file);
- a call log cannot be updated: its wrapping activity can (subject, note, participants, deal or
  lead, org), everything else of the log is fixed once created.

The marker is a last paragraph ``<p>callsync:<call_uid></p>`` of the note: plain text, so no
HTML sanitiser drops it (a comment might not survive), visible to reps as a harmless footer,
and searchable in the activity list (which returns notes). The read path strips it again.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.base import JsonDict, Resolved
from syncer.errors import VendorError
from syncer.mapping import VendorTable
from syncer.model import Call, Direction, PhoneNumber

MARKER_PREFIX = "callsync:"
_MARKER_LINE = re.compile(
    r"^callsync:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
V1_TIME = "%Y-%m-%d %H:%M:%S"


class PayloadError(VendorError):
    """A body Pipedrive would refuse with a 400, refused here before anything is sent (the
    engine marks the write failed with this message, as it would for the vendor's 400)."""

    def __init__(self, message: str) -> None:
        super().__init__("pipedrive", 400, message)
        self.args = (f"pipedrive would refuse the call: {message}",)


def marker_text(marker: str) -> str:
    return MARKER_PREFIX + marker


def note_html(note: str | None, marker: str) -> str:
    """The canonical note as HTML paragraphs (one per non-blank line, escaped), then the marker."""
    lines = [line.strip() for line in (note or "").splitlines() if line.strip()]
    paragraphs = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines)
    return f"{paragraphs}<p>{marker_text(marker)}</p>"


def strip_marker(text: str | None) -> str | None:
    """A note's text without the callsync marker line (for the read path)."""
    if text is None:
        return None
    kept = [line for line in text.split("\n") if not _MARKER_LINE.match(line.strip())]
    return "\n".join(kept) or None


def marker_in(text: str | None) -> str | None:
    """The call uid of callsync's marker line in a note's text, if it carries one."""
    for line in (text or "").split("\n"):
        if _MARKER_LINE.match(line.strip()):
            return line.strip()[len(MARKER_PREFIX) :]
    return None


def has_marker(note: object, marker: str) -> bool:
    return isinstance(note, str) and marker_text(marker) in note


def wire_number(number: PhoneNumber | None) -> str | None:
    """E.164 when the number parsed, else what the source said (Pipedrive stores strings)."""
    if number is None:
        return None
    return number.e164 or (number.raw.strip() or None)


def span(call: Call) -> tuple[datetime, datetime, int]:
    """(start, end, seconds): whole UTC seconds (sub-second precision is lost); the duration
    is the call's, else its end minus its start, else 0 (``end_time`` is required)."""
    start = call.started_at.replace(microsecond=0)
    if call.duration_seconds is not None:
        seconds = call.duration_seconds
    elif call.ended_at is not None:
        seconds = max(0, int((call.ended_at - call.started_at).total_seconds()))
    else:
        seconds = 0
    return start, start + timedelta(seconds=seconds), seconds


def subject(call: Call) -> str:
    """What reps see in the activity list: the direction and who was called."""
    who = _contact_label(call)
    if call.direction is Direction.INBOUND:
        return f"Inbound call from {who}"
    if call.direction is Direction.OUTBOUND:
        return f"Outbound call to {who}"
    return f"Call with {who}"


def _contact_label(call: Call) -> str:
    contact = call.contact
    if contact is not None and contact.name:
        return contact.name
    number = call.from_number if call.direction is Direction.INBOUND else call.to_number
    return wire_number(number) or "unknown number"


def call_log_body(call: Call, marker: str, resolved: Resolved, table: VendorTable) -> JsonDict:
    """The ``POST /v1/callLogs`` body, in the spec's field order, checked before sending."""
    start, end, seconds = span(call)
    links = resolved.links
    body: dict[str, Any] = {
        "user_id": _int_link(links, "user_id"),
        "subject": subject(call),
        "duration": str(seconds),
        "outcome": table.write("outcome", call.outcome),
        "from_phone_number": wire_number(call.from_number),
        "to_phone_number": wire_number(call.to_number),
        "start_time": start.strftime(V1_TIME),
        "end_time": end.strftime(V1_TIME),
        "person_id": _int_link(links, "person_id"),
        "org_id": _int_link(links, "org_id"),
        "deal_id": _int_link(links, "deal_id"),
        "lead_id": _lead(links),
        "note": note_html(call.note, marker),
    }
    body = {key: value for key, value in body.items() if value is not None}
    _check(body, table)
    return body


def activity_fields(call: Call, marker: str, resolved: Resolved) -> JsonDict:
    """What the wrapping activity holds of the call, as ``PATCH /api/v2/activities`` takes it
    (``person_id`` is read-only there: it is set through ``participants``)."""
    links = resolved.links
    person = _int_link(links, "person_id")
    return {
        "subject": subject(call),
        "note": note_html(call.note, marker),
        "participants": [] if person is None else [{"person_id": person, "primary": True}],
        "org_id": _int_link(links, "org_id"),
        "deal_id": _int_link(links, "deal_id"),
        "lead_id": _lead(links),
    }


def _check(body: Mapping[str, Any], table: VendorTable) -> None:
    if not body.get("to_phone_number"):
        raise PayloadError("to_phone_number is required: the call has no called number")
    values = table.dimension("outcome").values
    if body["outcome"] not in values:
        raise PayloadError(f"outcome {body['outcome']!r} is not one of {list(values)}")
    if not str(body["duration"]).isdigit():
        raise PayloadError(f"duration {body['duration']!r} is not whole seconds")
    if "deal_id" in body and "lead_id" in body:
        raise PayloadError("a call log links a deal or a lead, never both")


def _int_link(links: Mapping[str, str | int | None], name: str) -> int | None:
    value = links.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{name} is not an id: {value!r}")
    try:
        return int(value)
    except ValueError:
        raise PayloadError(f"{name} is not a Pipedrive id: {value!r}") from None


def _lead(links: Mapping[str, str | int | None]) -> str | None:
    value = links.get("lead_id")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _UUID.match(value):
        raise PayloadError(f"lead_id must be a UUID: {value!r}")
    return value
