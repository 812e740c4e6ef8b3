"""Pipedrive raw -> canonical: one call log, its ``call`` activity and the token user.

A record is ``{"call_log": <GET /v1/callLogs item>, "activity": <v2 activity subset> | None,
"user": <token user subset> | absent}``: everything the canonical call depends on, so
:attr:`Call.raw` holds all the vendor said and an unchanged record is recognised as such.

Facts relied on (vendor-apis close-pipedrive.md §2.3, §2.4, §2.5, §2.7, §2.11):
- the call log is the call: outcome (six values), ``from/to_phone_number``, ``start_time`` /
  ``end_time`` (``YYYY-MM-DD HH:MM:SS`` UTC on input, ISO ``...000Z`` in examples: both are
  read, §2.11a), ``duration`` a string of seconds (§2.11b), ``has_recording`` without a URL,
  ``note`` HTML. It cannot be updated (§2.7): the id is stable for the call's life, and a
  recreated log is a new call, which is why the call-log id is the external id (the
  activity id is shared by a log deleted and a new log converted from the same activity, and
  a call activity without a log is no phone call record at all);
- edits after logging go to the wrapping activity (``PATCH /api/v2/activities/{id}``: subject,
  note, deal, person...), so the activity's note and links win over the log's copy, and its
  ``update_time`` is the source update time; ``is_deleted`` (soft delete) is a tombstone;
- no direction field (§2.11e): inferred from the token user's own number (``/v1/users/me``),
  else unknown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from connectors.base import ConnectorContext, JsonDict
from connectors.pipedrive.payload import marker_in, note_html, strip_marker
from syncer.errors import MappingFailure
from syncer.mapping import UnmappedValueError
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity

NIL_MARKER = "00000000-0000-0000-0000-000000000000"  # any call uid: to model a round trip

SYSTEM = "pipedrive"
CALL_TYPE = "call"  # the key_string of the activity type wrapping call logs (§2.4, §2.11l)
# The activity fields a call depends on (kept in records and in connector state).
ACTIVITY_FIELDS = (
    "id",
    "type",
    "subject",
    "note",
    "owner_id",
    "is_deleted",
    "done",
    "add_time",
    "update_time",
    "deal_id",
    "lead_id",
    "person_id",
    "org_id",
    "due_date",
    "due_time",
    "duration",
)
PROFILE_FIELDS = ("id", "name", "email", "phone")
# What each outcome says about who picked up: a person (the three outcomes with someone on
# the line), a machine (voicemail), nobody (no answer, busy).
_PERSON = frozenset({Outcome.CONNECTED, Outcome.MESSAGE_LEFT, Outcome.WRONG_NUMBER})
_MACHINE = frozenset({Outcome.VOICEMAIL_LEFT})
_NOBODY = frozenset({Outcome.NO_ANSWER, Outcome.BUSY})
_V1_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def activity_snapshot(activity: JsonDict) -> JsonDict:
    return {name: activity.get(name) for name in ACTIVITY_FIELDS}


def profile_snapshot(user: JsonDict) -> JsonDict:
    return {name: user.get(name) for name in PROFILE_FIELDS}


def activity_id_of(log: JsonDict) -> int | None:
    value = log.get("activity_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def build_record(log: JsonDict, activity: JsonDict | None, profile: JsonDict | None) -> JsonDict:
    record: JsonDict = {"call_log": log, "activity": activity}
    if profile is not None and log.get("user_id") == profile.get("id"):
        record["user"] = profile
    return record


def record_key(record: JsonDict) -> str:
    log = record["call_log"]
    if not isinstance(log, dict) or not isinstance(log.get("id"), str | int) or log["id"] == "":
        raise KeyError("call_log.id")
    return str(log["id"])


def to_call(record: JsonDict, context: ConnectorContext) -> Call:
    log = _object(record, "call_log")
    activity = _object(record, "activity") if record.get("activity") is not None else None
    profile = _object(record, "user") if record.get("user") is not None else None
    started = _time(log, "start_time", required=True)
    assert started is not None
    ended = _time(log, "end_time")
    outcome = _outcome(context, log)
    from_number = _phone(log, "from_phone_number", context.phone_region)
    to_number = _phone(log, "to_phone_number", context.phone_region)
    mine = _phone(profile, "phone", context.phone_region) if profile else None
    direction = infer_direction(from_number, to_number, mine)
    links = activity if activity is not None else log  # edits land on the activity (§2.7)
    updated = _time(activity, "update_time") if activity else None
    note = html_to_text(_text(activity if activity else log, "note"))
    return Call(
        source=SourceIdentity(
            system=SYSTEM,
            connection=context.name,
            external_id=record_key(record),
            source_updated_at=updated,
        ),
        started_at=started,
        ended_at=ended,
        duration_seconds=_duration(log, started, ended),
        outcome=outcome,
        answered=_flag(outcome, _PERSON, _NOBODY | _MACHINE),
        human=_flag(outcome, _PERSON, _MACHINE),
        direction=direction,
        from_number=from_number,
        to_number=to_number,
        user=_user(log, profile, mine),
        contact=_contact(links, _their_number(direction, from_number, to_number)),
        note=strip_marker(note),
        copy_of=marker_in(note),
        deleted_at=updated if activity and activity.get("is_deleted") is True else None,
        raw=record,
    )


def _flag(outcome: Outcome, yes: frozenset[Outcome], no: frozenset[Outcome]) -> bool | None:
    if outcome in yes:
        return True
    return False if outcome in no else None


def infer_direction(
    from_number: PhoneNumber | None, to_number: PhoneNumber | None, mine: PhoneNumber | None
) -> Direction | None:
    """Outbound when the user's own number called, inbound when it was called, else unknown."""
    own = mine.e164 if mine is not None else None
    if own is None:
        return None
    caller = from_number.e164 if from_number else None
    callee = to_number.e164 if to_number else None
    if caller == own and callee != own:
        return Direction.OUTBOUND
    if callee == own and caller != own:
        return Direction.INBOUND
    return None


def parse_time(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` (UTC by definition) or ISO 8601; a zoneless ISO time is UTC."""
    value = text.strip()
    if _V1_TIME.match(value):
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def note_read_back(note: str | None) -> str | None:
    """The canonical note a copy written with ``note`` reads back as (HTML paragraphs, the
    marker stripped again): what an unedited copy says."""
    return strip_marker(html_to_text(note_html(note, NIL_MARKER)))


def html_to_text(html: str | None) -> str | None:
    """Pipedrive notes are HTML (§2.3): the canonical note is its text, paragraphs kept."""
    if html is None:
        return None
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(line for line in lines if line)
    return text or None


class _TextParser(HTMLParser):
    _BREAKS = frozenset({"p", "br", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)  # entities are already decoded (convert_charrefs)


# --- field readers: each raises MappingFailure with the field's name ---------------------------


def _object(record: JsonDict, name: str) -> JsonDict:
    value = record.get(name)
    if not isinstance(value, dict):
        raise MappingFailure(f"{name} is not an object")
    return value


def _text(source: JsonDict, name: str) -> str | None:
    value = source.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MappingFailure(f"{name} is not a string: {value!r}")
    return value


def _time(source: JsonDict, name: str, *, required: bool = False) -> datetime | None:
    text = _text(source, name)
    if text is None:
        if required:
            raise MappingFailure(f"{name} is missing: the call cannot be placed in time")
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise MappingFailure(f"{name} is not a date-time: {text!r}") from None


def _outcome(context: ConnectorContext, log: JsonDict) -> Outcome:
    value = _text(log, "outcome")
    if value is None:
        return Outcome.UNKNOWN  # required on create (§2.6): absent means we cannot tell
    try:
        return context.table.read("outcome", value) or Outcome.UNKNOWN
    except UnmappedValueError as error:
        raise MappingFailure(str(error)) from None


def _duration(log: JsonDict, started: datetime, ended: datetime | None) -> int | None:
    """A string of whole seconds (§2.11b); without one, the span from start to end."""
    value: Any = log.get("duration")
    if value is None or value == "":
        if ended is None or ended < started:
            return None
        return int((ended - started) / timedelta(seconds=1))
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise MappingFailure(f"duration is not a number of seconds: {value!r}")


def _phone(source: JsonDict, name: str, region: str) -> PhoneNumber | None:
    text = _text(source, name)
    return None if text is None else _parse_phone(text, region)


@lru_cache(maxsize=4096)
def _parse_phone(text: str, region: str) -> PhoneNumber:
    # The rep's own lines recur on every call; PhoneNumber is immutable, so sharing is safe.
    return PhoneNumber.parse(text, region)


def _their_number(
    direction: Direction | None, from_number: PhoneNumber | None, to_number: PhoneNumber | None
) -> PhoneNumber | None:
    if direction is Direction.OUTBOUND:
        return to_number
    if direction is Direction.INBOUND:
        return from_number
    return None


def _ident(source: JsonDict, name: str) -> str | None:
    value = source.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MappingFailure(f"{name} is not an id: {value!r}")
    return str(value)


def _user(log: JsonDict, profile: JsonDict | None, phone: PhoneNumber | None) -> Party | None:
    ident = _ident(log, "user_id")
    if ident is None:
        return None
    if profile is None:
        return Party(ids={SYSTEM: ident})
    return Party(
        name=_text(profile, "name"), email=_text(profile, "email"), phone=phone, ids={SYSTEM: ident}
    )


def _contact(links: JsonDict, phone: PhoneNumber | None) -> Party | None:
    """The person called, with the deal/lead/organization the call is filed under."""
    ids = {
        key: ident
        for key, name in (
            (SYSTEM, "person_id"),
            (f"{SYSTEM}:org", "org_id"),
            (f"{SYSTEM}:deal", "deal_id"),
            (f"{SYSTEM}:lead", "lead_id"),
        )
        if (ident := _ident(links, name)) is not None
    }
    if not ids and phone is None:
        return None
    return Party(phone=phone, ids=ids)
