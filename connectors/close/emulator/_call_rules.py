"""The rules of a call record: fields, enums, request schemas and their checks (§1.3-§1.6)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from ._support import (
    is_e164,
    micros,
    parse_datetime,
    phone_fields,
    to_ms,
    validation,
)

LAZY_FIELDS = ("recording_transcript", "voicemail_transcript")  # only via _fields (§1.3)
STATUSES = (
    "created",
    "in-progress",
    "completed",
    "cancel",
    "no-answer",
    "busy",
    "failed",
    "timeout",
)
DIRECTIONS = ("inbound", "outbound")
SOURCES = ("Close.io", "External")
MAX_DURATION = 604_800  # create/update schema: integer <= 7 days (§1.3)

# The create/update request schemas have additionalProperties: false (§1.4, §1.6).
CREATE_KEYS = frozenset(
    {
        "lead_id",
        "contact_id",
        "user_id",
        "created_by_id",
        "created_by",
        "organization_id",
        "direction",
        "status",
        "duration",
        "phone",
        "note",
        "note_html",
        "outcome_id",
        "recording_url",
        "voicemail_url",
        "activity_at",
        "date_created",
        "source",
        "conversation_type_id",
        "playbook_id",
        "quality_info",
        "custom_fields",
    }
)
UPDATE_KEYS = frozenset(
    {
        "activity_at",
        "contact_id",
        "conversation_type_id",
        "custom_fields",
        "duration",
        "lead_id",
        "note",
        "note_html",
        "outcome_id",
        "phone",
        "playbook_id",
        "quality_info",
        "recording_url",
        "status",
        "user_id",
        "voicemail_url",
        # Setting it to null deletes an internal call's transcript for good (§1.6).
        "recording_transcript",
    }
)
# "status, duration, direction cannot be changed on calls made through Close's VoIP" (§1.6).
VOIP_LOCKED = ("status", "duration", "direction")
MEDIA_FIELDS = ("recording_url", "voicemail_url", "recording_transcript")

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)


def note_to_html(note: str) -> str:
    """``note`` fills ``note_html``: HTML escaped, newlines turned into ``<br />`` (seed 003)."""
    return html.escape(note).replace("\n", "<br />")


def html_to_note(note_html: str) -> str:
    """``note_html`` populates ``note`` with a plain-text rendering (formatting not preserved)."""
    text = _BREAK.sub("\n", note_html)
    return html.unescape(_TAG.sub("", text)).strip()


def stored_call(rec: dict[str, Any]) -> dict[str, Any]:
    """The StateDB document of a call: the record plus its sortable keys."""
    activity = rec.get("activity_at")
    return {
        "rec": rec,
        "created": micros(parse_datetime(rec["date_created"])),
        "activity": micros(parse_datetime(activity)) if activity else None,
    }


def public(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The call as served without ``_fields`` (and as event ``data``): no lazy transcripts."""
    return {key: value for key, value in rec.items() if key not in LAZY_FIELDS}


# --- field checks: value -> (clean value, error) ----------------------------------------------

Check = Callable[[Any], tuple[Any, str | None]]


def _enum(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> tuple[Any, str | None]:
        return (
            (value, None) if value in choices else (None, f"Must be one of: {', '.join(choices)}.")
        )

    return check


def _duration(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "A valid integer is required."
    if not 0 <= value <= MAX_DURATION:
        return None, f"Ensure this value is between 0 and {MAX_DURATION}."
    return value, None


def _e164(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, str) or not is_e164(value):
        return None, "Phone number must be in E.164 format, e.g. +16505551234."
    return value, None


def _https(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, str) or not value.startswith("https://"):
        return None, "Must be an https:// URL."
    return value, None


def _moment(value: Any) -> tuple[Any, str | None]:
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return None, "Enter a valid date/time."
    return to_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC)), None


def _text(value: Any) -> tuple[Any, str | None]:
    return (
        (value, None) if value is None or isinstance(value, str) else (None, "Not a valid string.")
    )


def _anything(value: Any) -> tuple[Any, str | None]:
    return value, None


def _status(value: Any) -> tuple[Any, str | None]:
    return _enum(STATUSES)(value)


CHECKS: dict[str, Check] = {
    "direction": _enum(DIRECTIONS),
    "status": _status,
    "source": _enum(SOURCES),
    "duration": _duration,
    "phone": _e164,
    "recording_url": _https,
    "voicemail_url": _https,
    "activity_at": _moment,
    "date_created": _moment,
    "note": _text,
    "note_html": _text,
    "conversation_type_id": _text,
    "playbook_id": _text,
    "quality_info": _anything,
    "user_id": _text,
    "recording_transcript": lambda value: (
        (None, None) if value is None else (None, "Only null is accepted (deletes the transcript).")
    ),
}


def reject_unknown(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = [key for key in body if key not in allowed and not key.startswith("custom.")]
    if unknown:
        # additionalProperties: false. For `disposition` Close's real answer is UNCONFIRMED
        # (ignore or reject); we reject so a connector never believes it was written.
        raise validation(dict.fromkeys(unknown, "Unknown field."))


def remote_phone(phone: str | None) -> dict[str, Any]:
    if phone is None:
        return {
            "phone": None,
            "remote_phone": None,
            "remote_phone_formatted": None,
            "remote_country_iso": None,
        }
    return {"phone": phone, **phone_fields("remote", phone)}


def apply_notes(rec: dict[str, Any], fields: dict[str, Any]) -> None:
    """Setting one of note/note_html overwrites the other; note_html wins when both are sent."""
    if "note_html" in fields:
        value = fields["note_html"]
        rec["note_html"], rec["note"] = value, html_to_note(value) if value else value
    elif "note" in fields:
        value = fields["note"]
        rec["note"], rec["note_html"] = value, note_to_html(value) if value else value


def apply_extras(rec: dict[str, Any], fields: dict[str, Any]) -> None:
    for key in ("conversation_type_id", "playbook_id", "quality_info"):
        if key in fields:
            rec[key] = fields[key]
    rec.update({key: value for key, value in fields.items() if key.startswith("custom.")})


def touches_recording(old: dict[str, Any], body: dict[str, Any]) -> bool:
    return "recording_url" in body and body["recording_url"] != old.get("recording_url")
