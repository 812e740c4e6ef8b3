"""An Outreach ``call`` resource (JSON:API) as a canonical :class:`~syncer.model.Call`.

Facts (shared/vendor-apis/amplemarket-outreach.md §2.4, §2.5, §2.8, §2.14):

- Attributes are all nullable; ``createdAt`` is the row's creation, not the call time, and
  manually logged calls have no dialed/answered/completed times. So the start is
  ``dialedAt`` ?? ``answeredAt`` ?? ``createdAt``; a call with none of them cannot be placed in
  time and is quarantined.
- No duration attribute: duration = ``completedAt`` - ``answeredAt`` (the talk time), unknown
  when either is missing.
- ``outcome`` is binary ("Answered" / "Not Answered"); the account's disposition label refines
  it through the connection's ``outcome_by_disposition``. Without such a label, ``state``
  "failed" (seen in the data dictionary, values not enumerated) says the call never connected.
- ``direction`` is the user's point of view: outbound calls go from the user's number to the
  prospect's, inbound ones the other way.
- Relationship ids are integers; ``user`` and ``prospect`` become the parties' Outreach ids.
  The user's name and email come from the org's users (``users``); the user resource is kept
  in the stored payload under ``included`` (where ``include=user`` would put it), so a stored
  call can be mapped again without asking Outreach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import ConnectorContext, JsonDict
from connectors.fields import optional_text, optional_time
from connectors.outreach.cursor import parse_time
from connectors.outreach.labels import LabelCatalog, related_id
from connectors.outreach.users import UserDirectory, rep_email, rep_name
from syncer.errors import MappingFailure
from syncer.mapping import UnmappedValueError
from syncer.model import (
    Call,
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SequenceContext,
    SourceIdentity,
    VendorLabel,
)

SYSTEM = "outreach"
HUMAN = frozenset({Outcome.CONNECTED, Outcome.MESSAGE_LEFT, Outcome.WRONG_NUMBER})
MACHINE = frozenset({Outcome.VOICEMAIL_LEFT, Outcome.VOICEMAIL_NO_MESSAGE, Outcome.VOICEMAIL})


def record_key(record: JsonDict) -> str:
    """The call's Outreach id as text; KeyError/TypeError when it has none."""
    ident = record["id"]
    if isinstance(ident, bool) or not isinstance(ident, int | str) or str(ident) == "":
        raise TypeError(f"call id {ident!r} is not an id")
    return str(ident)


@dataclass(frozen=True)
class _Times:
    dialed: datetime | None
    answered: datetime | None
    completed: datetime | None
    created: datetime | None
    updated: datetime | None

    @classmethod
    def of(cls, attributes: JsonDict) -> _Times:
        return cls(*(_time(attributes, name) for name in _TIME_FIELDS))

    @property
    def duration(self) -> int | None:
        if self.answered is None or self.completed is None or self.completed < self.answered:
            return None
        return int((self.completed - self.answered).total_seconds())


_TIME_FIELDS = ("dialedAt", "answeredAt", "completedAt", "createdAt", "updatedAt")


def map_call(
    record: JsonDict,
    context: ConnectorContext,
    labels: LabelCatalog,
    users: UserDirectory | None = None,
) -> Call:
    """The canonical call; ``MappingFailure`` says why a record cannot be one."""
    candidate: object = record  # a page's data array may hold anything
    if not isinstance(candidate, dict) or candidate.get("type") not in ("call", None):
        raise MappingFailure("not an Outreach call resource")
    try:
        return _map(record, context, labels, users)
    except UnmappedValueError as error:
        raise MappingFailure(str(error)) from None


def _map(
    record: JsonDict, context: ConnectorContext, labels: LabelCatalog, users: UserDirectory | None
) -> Call:
    try:
        ident = record_key(record)
    except (KeyError, TypeError):
        raise MappingFailure("the call has no id") from None
    attributes = _members(record, "attributes")
    relationships = _members(record, "relationships")
    times = _Times.of(attributes)
    started = times.dialed or times.answered or times.created
    if started is None:
        raise MappingFailure("no dialedAt, answeredAt or createdAt: the call has no time")
    labels.prepare([record])
    disposition = labels.label("callDisposition", related_id(relationships, "callDisposition"))
    vendor_outcome = _text(attributes, "outcome")
    outcome = _outcome(context, vendor_outcome, disposition, _text(attributes, "state"))
    direction = _read(context, "direction", _text(attributes, "direction"))
    numbers = _numbers(attributes, context.phone_region)
    mine, theirs = numbers if direction is not Direction.INBOUND else numbers[::-1]
    known = direction is not None
    user_ident = related_id(relationships, "user")
    user = _user(record, user_ident, users)
    return Call(
        source=SourceIdentity(
            system=SYSTEM,
            connection=context.name,
            external_id=ident,
            source_updated_at=times.updated,
        ),
        started_at=started,
        outcome=outcome,
        direction=direction,
        from_number=numbers[0],
        to_number=numbers[1],
        answered_at=times.answered,
        ended_at=times.completed,
        duration_seconds=times.duration,
        answered=None if vendor_outcome is None else vendor_outcome == "Answered",
        human=_human(outcome),
        disposition=disposition,
        purpose=labels.label("callPurpose", related_id(relationships, "callPurpose")),
        sequence=_sequence(relationships),
        sequence_action=_read(context, "sequence_action", _text(attributes, "sequenceAction")),
        user=_rep(user_ident, user, mine if known else None),
        contact=_party(related_id(relationships, "prospect"), theirs if known else None),
        note=_text(attributes, "note"),
        recording_url=_text(attributes, "recordingUrl"),
        voicemail_url=_text(attributes, "voicemailRecordingUrl"),
        tags=_tags(attributes),
        copy_of=_marker(attributes),
        raw=record if user is None else {**record, "included": [user]},
    )


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _marker(attributes: JsonDict) -> str | None:
    """callsync's marker: ``vendorCallId`` of a call logged with ``externalVendor: callsync``."""
    vendor = _text(attributes, "externalVendor")
    marker = _text(attributes, "vendorCallId")
    if vendor is None or vendor.lower() != "callsync" or marker is None:
        return None
    return marker.lower() if _UUID.match(marker) else None


def _outcome(
    context: ConnectorContext,
    vendor: str | None,
    disposition: VendorLabel | None,
    state: str | None,
) -> Outcome:
    refined = context.table.outcome_for_disposition(disposition.label if disposition else None)
    if refined is not None:
        return refined
    if state == "failed" and vendor != "Answered":
        return Outcome.FAILED
    return _read(context, "outcome", vendor) or Outcome.UNKNOWN


def _human(outcome: Outcome) -> bool | None:
    """A person (True) or a machine (False) picked up, when the outcome says so."""
    if outcome in HUMAN:
        return True
    return False if outcome in MACHINE else None


def _read(context: ConnectorContext, dimension: str, value: str | None) -> Any:
    return None if value is None else context.table.read(dimension, value)


def _members(record: JsonDict, name: str) -> JsonDict:
    value = record.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingFailure(f"{name} is not an object")
    return value


def _text(attributes: JsonDict, name: str) -> str | None:
    return optional_text(attributes, name)


def _time(attributes: JsonDict, name: str) -> datetime | None:
    return optional_time(attributes, name, parse_time)


def _numbers(attributes: JsonDict, region: str) -> tuple[PhoneNumber | None, PhoneNumber | None]:
    found = (_text(attributes, "from"), _text(attributes, "to"))
    parsed = tuple(None if raw is None else PhoneNumber.parse(raw, region) for raw in found)
    return parsed[0], parsed[1]


def _tags(attributes: JsonDict) -> tuple[str, ...]:
    tags = attributes.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise MappingFailure(f"tags is not a list of strings: {tags!r}")
    return tuple(tags)


def _sequence(relationships: JsonDict) -> SequenceContext | None:
    sequence = related_id(relationships, "sequence")
    step = related_id(relationships, "sequenceStep")
    if sequence is None and step is None:
        return None
    return SequenceContext(id=sequence, step=step)


def _user(record: JsonDict, ident: str | None, users: UserDirectory | None) -> JsonDict | None:
    """The call's user resource: from the org's users, else from the stored payload."""
    if ident is None:
        return None
    if users is not None:
        users.prepare([record])
        if (found := users.user(ident)) is not None:
            return found
    included = record.get("included")
    for item in included if isinstance(included, list) else ():
        if isinstance(item, dict) and item.get("type") == "user" and str(item.get("id")) == ident:
            return item
    return None


def _rep(ident: str | None, user: JsonDict | None, phone: PhoneNumber | None) -> Party | None:
    party = _party(ident, phone)
    if party is None or user is None:
        return party
    return party.model_copy(update={"name": rep_name(user), "email": rep_email(user)})


def _party(ident: str | None, phone: PhoneNumber | None) -> Party | None:
    if ident is None and phone is None:
        return None
    return Party(phone=phone, ids={} if ident is None else {SYSTEM: ident})
