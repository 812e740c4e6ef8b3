"""Another user's call, read from its ``call`` activity alone (``others`` decides which).

A record is ``{"activity": <v2 activity subset>, "owner": <user subset> | None}`` (no
``call_log``): the call-log list shows only the token user's logs (vendor-apis §2.3, §2.8),
so for every other rep the activity is all the API shows. Its external id is
``activity:<id>``, which no call-log id (a string of hex digits, §2.3) can be.

What an activity says and does not say (§2.4, §2.7, §2.11b):
- start: ``due_date`` + ``due_time``, read as UTC (integrations such as RingCentral's write
  them in UTC; UNCONFIRMED for a call a rep logs by hand in the UI, which may be their local
  time); without a due time, ``add_time`` (when it was logged) stands in;
- ``duration`` ``HH:MM`` or ``HH:MM:SS`` (sub-minute precision only in the second form);
- no phone numbers, outcome, recording or direction field: the outcome is ``unknown``;
  the direction is read from the subject when it says it (``Outbound call to ...``, as
  callsync and common integrations write it; "incoming"/"outgoing" too), else unknown;
- the owner (``owner_id``) is the rep, named from ``/v1/users``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from connectors.base import ConnectorContext, JsonDict
from connectors.pipedrive.payload import marker_in, strip_marker
from connectors.pipedrive.records import (
    PROFILE_FIELDS,
    SYSTEM,
    activity_snapshot,
    html_to_text,
    parse_time,
)
from connectors.pipedrive.records import _contact as contact_of
from connectors.pipedrive.records import _ident as ident_of
from connectors.pipedrive.records import _text as text_of
from connectors.pipedrive.records import _time as time_of
from syncer.errors import MappingFailure
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity

KEY_PREFIX = "activity:"
_OUTBOUND = re.compile(r"\b(outbound|outgoing)\b|\bcall(ed)? to\b", re.IGNORECASE)
_INBOUND = re.compile(r"\b(inbound|incoming)\b|\bcall(ed)? from\b", re.IGNORECASE)
_DURATION = re.compile(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$")


def is_activity_record(record: JsonDict) -> bool:
    return "call_log" not in record and isinstance(record.get("activity"), dict)


def record_key_of(activity_id: object) -> str:
    return f"{KEY_PREFIX}{activity_id}"


def build(activity: JsonDict, owner: JsonDict | None) -> JsonDict:
    snapshot = activity_snapshot(activity)
    return {
        "activity": snapshot,
        "owner": None if owner is None else {name: owner.get(name) for name in PROFILE_FIELDS},
    }


def record_key(record: JsonDict) -> str:
    activity = record.get("activity")
    if not isinstance(activity, dict) or not isinstance(activity.get("id"), int):
        raise KeyError("activity.id")
    return record_key_of(activity["id"])


def direction_of(subject: str | None) -> Direction | None:
    if not subject:
        return None
    outbound, inbound = _OUTBOUND.search(subject), _INBOUND.search(subject)
    if outbound and not inbound:
        return Direction.OUTBOUND
    if inbound and not outbound:
        return Direction.INBOUND
    return None  # silent or contradictory: unknown, never a guess


def to_call(record: JsonDict, context: ConnectorContext) -> Call:
    activity = record.get("activity")
    if not isinstance(activity, dict):
        raise MappingFailure("activity is not an object")
    owner = record.get("owner")
    started = _start(activity)
    duration = _duration(activity.get("duration"))
    updated = time_of(activity, "update_time")
    note = html_to_text(text_of(activity, "note"))
    return Call(
        source=SourceIdentity(
            system=SYSTEM,
            connection=context.name,
            external_id=record_key(record),
            source_updated_at=updated,
        ),
        started_at=started,
        ended_at=None if duration is None else started + timedelta(seconds=duration),
        duration_seconds=duration,
        outcome=Outcome.UNKNOWN,  # activities carry no outcome (§2.4)
        direction=direction_of(text_of(activity, "subject")),
        user=_user(activity, owner if isinstance(owner, dict) else None, context.phone_region),
        contact=contact_of(activity, None),
        note=strip_marker(note),
        copy_of=marker_in(note),
        deleted_at=updated if activity.get("is_deleted") is True else None,
        raw=record,
    )


def start_of(record: JsonDict) -> datetime:
    """When the call of an activity record (``build``) started."""
    return _start(record["activity"])


def _start(activity: JsonDict) -> datetime:
    day, clock = text_of(activity, "due_date"), text_of(activity, "due_time")
    if day and clock:
        stamp = f"{day} {clock if clock.count(':') == 2 else clock + ':00'}"
        try:
            return parse_time(stamp)
        except ValueError:
            raise MappingFailure(f"due_date/due_time is not a time: {stamp!r}") from None
    added = time_of(activity, "add_time")
    if added is None:
        raise MappingFailure("no due time and no add_time: the call cannot be placed in time")
    return added


def _duration(value: object) -> int | None:
    if value is None or value == "":
        return None
    found = _DURATION.match(value) if isinstance(value, str) else None
    if found is None:
        raise MappingFailure(f"duration is not HH:MM or HH:MM:SS: {value!r}")
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def _user(activity: JsonDict, owner: JsonDict | None, region: str) -> Party | None:
    ident = ident_of(activity, "owner_id")
    if ident is None:
        return None
    if owner is None:  # not in /v1/users (a deleted user?): the id is all we know
        return Party(ids={SYSTEM: ident})
    phone_text = text_of(owner, "phone")
    return Party(
        name=text_of(owner, "name"),
        email=text_of(owner, "email"),
        phone=PhoneNumber.parse(phone_text, region) if phone_text else None,
        ids={SYSTEM: ident},
    )
