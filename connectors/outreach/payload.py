"""A canonical call as the body of ``POST /api/v2/calls`` (JSON:API), and back for comparing.

Facts (shared/vendor-apis/amplemarket-outreach.md §2.4, §2.5, §2.9, §2.14):

- ``{"data": {"type": "call", "attributes": {...}, "relationships": {...}}}``; no ``id`` and no
  read-only attribute (``createdAt``, ``updatedAt``, ``state``, ``stateChangedAt``, ``uid``,
  ``voicemailRecordingUrl``). Relationship ids are integers.
- Limits checked here, before sending, so Outreach never answers 422 for them:
  ``recordingUrl`` at most 255 characters and http(s) only (otherwise left out: a link that
  cannot be stored is not a reason to lose the call), ``vendorCallId`` at most 63 (the marker,
  a 36-character UUID: anything else is a bug), ``note`` at most 65,535 (cut, with an ellipsis),
  ``from``/``to`` at most 255 (E.164 is sent; an unparseable number is sent as typed when it
  fits, else left out). ``direction``, ``outcome`` and ``sequenceAction`` come from the mapping
  table (mappings/outreach.yaml), so only enum values can be sent.
- Times: ``dialedAt`` is the call's start, ``answeredAt`` its answer, ``completedAt`` its end
  (or answer/start + duration when the source has no end). Outreach keeps whole seconds and has
  no duration attribute: the reader derives it as ``completedAt - answeredAt``.
- The marker: ``vendorCallId`` = the call's ``call_uid``, ``externalVendor`` = "callsync".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from connectors.base import JsonDict
from connectors.outreach.client import format_time
from connectors.outreach.cursor import parse_time
from connectors.outreach.settings import OutreachSettings
from syncer.mapping import VendorTable
from syncer.model import Call, PhoneNumber

EXTERNAL_VENDOR = "callsync"
MAX_URL = 255
MAX_VENDOR_CALL_ID = 63
MAX_NOTE = 65_535
MAX_NUMBER = 255
ELLIPSIS = "…"
TIMES = ("dialedAt", "answeredAt", "completedAt")
# The relationships callsync writes, and the resource type each points to.
RELATIONSHIPS = ("prospect", "user", "phoneNumber", "callDisposition", "callPurpose")
# What each written attribute or relationship holds, in canonical words, in the order a
# difference is reported (outcome first: it is what reports count).
CANONICAL_FIELD = {
    "outcome": "outcome",
    "callDisposition": "outcome",
    "direction": "direction",
    "dialedAt": "started_at",
    "answeredAt": "answered_at",
    "completedAt": "ended_at",
    "from": "from_number",
    "to": "to_number",
    "note": "note",
    "recordingUrl": "recording_url",
    "sequenceAction": "sequence_action",
    "tags": "tags",
    "prospect": "contact",
    "phoneNumber": "contact",
    "user": "user",
    "callPurpose": "purpose",
}


def call_document(
    call: Call,
    marker: str,
    links: Mapping[str, str | int | None],
    table: VendorTable,
    settings: OutreachSettings,
) -> JsonDict:
    """The create request's body."""
    if not marker or len(marker) > MAX_VENDOR_CALL_ID:
        raise ValueError(f"the marker must be 1 to {MAX_VENDOR_CALL_ID} characters: {marker!r}")
    attributes = {**_attributes(call, table, settings), "externalVendor": EXTERNAL_VENDOR}
    attributes["vendorCallId"] = marker
    relationships = {
        name: {"data": {"type": name, "id": int(ident)}}
        for name in RELATIONSHIPS
        if (ident := links.get(name)) is not None
    }
    return {"data": {"type": "call", "attributes": attributes, "relationships": relationships}}


def _attributes(call: Call, table: VendorTable, settings: OutreachSettings) -> JsonDict:
    values: dict[str, Any] = {
        "direction": table.write("direction", call.direction) if call.direction else None,
        "outcome": table.write("outcome", call.outcome),
        "from": number_text(call.from_number),
        "to": number_text(call.to_number),
        "dialedAt": format_time(call.started_at),
        "answeredAt": format_time(call.answered_at) if call.answered_at else None,
        "completedAt": _completed(call),
        "note": note_text(call.note),
        "recordingUrl": recording_url(call.recording_url),
        "sequenceAction": _sequence_action(call, table, settings),
        "tags": list(call.tags) if call.tags else None,
    }
    return {name: value for name, value in values.items() if value is not None}


def _completed(call: Call) -> str | None:
    if call.ended_at is not None:
        return format_time(call.ended_at)
    if call.duration_seconds is None:
        return None
    return format_time(
        (call.answered_at or call.started_at) + timedelta(seconds=call.duration_seconds)
    )


def _sequence_action(call: Call, table: VendorTable, settings: OutreachSettings) -> str | None:
    if call.sequence_action is None or not settings.write_sequence_action:
        return None
    return table.write("sequence_action", call.sequence_action)


def number_text(number: PhoneNumber | None) -> str | None:
    """E.164 when the number parsed; the text as typed when it did not and fits."""
    if number is None:
        return None
    text = number.e164 or number.raw.strip()
    return text if text and len(text) <= MAX_NUMBER else None


def note_text(note: str | None) -> str | None:
    if not note:
        return None
    return note if len(note) <= MAX_NOTE else note[: MAX_NOTE - len(ELLIPSIS)] + ELLIPSIS


def recording_url(url: str | None) -> str | None:
    """The URL when Outreach can store it (http/https, at most 255 characters), else None."""
    if not url or len(url) > MAX_URL:
        return None
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


# --- comparing with a created call -----------------------------------------------------------


def differences(document: JsonDict, record: JsonDict) -> Iterator[str]:
    """The Outreach names of what ``document`` would write differently from ``record`` (an
    existing call as Outreach shows it), in ``CANONICAL_FIELD`` order."""
    wanted = document["data"]
    attributes = record.get("attributes") or {}
    relationships = record.get("relationships") or {}
    for name in CANONICAL_FIELD:
        if name in RELATIONSHIPS:
            mine = wanted["relationships"].get(name, {}).get("data")
            theirs = (relationships.get(name) or {}).get("data")
            if _ident(mine) != _ident(theirs):
                yield name
        elif _value(name, wanted["attributes"].get(name)) != _value(name, attributes.get(name)):
            yield name


def _ident(data: Any) -> str | None:
    return None if not isinstance(data, dict) or data.get("id") is None else str(data["id"])


def _value(name: str, value: Any) -> Any:
    """A comparable form: whole-second instants, "" and [] as not set."""
    if value in (None, "", []):
        return None
    if name in TIMES and isinstance(value, str):
        try:
            moment: datetime = parse_time(value)
        except ValueError:
            return value
        return moment.replace(microsecond=0)
    return value
