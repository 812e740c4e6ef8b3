"""Raw Amplemarket call -> canonical :class:`~syncer.model.Call`.

Field facts (shared/vendor-apis/amplemarket-outreach.md §1.3, the official GET /calls schema
in seeds 000/001): ``answered`` is nullable (the official list example has ``answered: null``
with ``duration: null`` for dials that never connected), ``human`` is a boolean, ``start_date``
is UTC with second precision, numbers are not E.164-normalised, ``contact`` is ``{id, name,
email}`` or null. ``direction``, ``user_email``, ``disposition_name`` and ``transcript`` are
documented by PostHog only and may be absent. There is no ``updated_at``.

Outcome: ``answered`` + ``human`` fold into the keys of ``mappings/amplemarket.yaml``;
``answered: null`` counts as not answered (nothing reached a person). A disposition label
the connection maps (``outcome_by_disposition``) refines that coarse outcome. The sequence
action is the ``action`` of the call's disposition (§1.9).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.amplemarket.payload import split_marker
from connectors.base import JsonDict
from syncer.errors import MappingFailure
from syncer.mapping import UnmappedValueError, VendorTable
from syncer.model import (
    Call,
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SequenceAction,
    SourceIdentity,
    VendorLabel,
)

SYSTEM = "amplemarket"


@dataclass(frozen=True)
class Disposition:
    id: str
    name: str | None
    action: str | None

    @classmethod
    def from_raw(cls, raw: JsonDict) -> Disposition | None:
        if not isinstance(raw.get("id"), str):
            return None
        return cls(raw["id"], _text(raw.get("name")), _text(raw.get("action")))


DispositionLookup = Callable[[str], Disposition | None]


@dataclass(frozen=True)
class MappingContext:
    connection: str
    table: VendorTable
    phone_region: str
    disposition: DispositionLookup


def record_key(record: Any) -> str:
    """The call's id; a record without one cannot be named (the engine then hashes it)."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
        raise KeyError("id")
    return str(record["id"])


def to_call(record: JsonDict, ctx: MappingContext) -> Call:
    try:
        return _to_call(record, ctx)
    except UnmappedValueError as error:
        raise MappingFailure(str(error)) from error


def _to_call(record: JsonDict, ctx: MappingContext) -> Call:
    try:
        external_id = record_key(record)
    except KeyError:
        raise MappingFailure("the call has no `id`") from None
    answered = _flag(record, "answered")
    human = _flag(record, "human")
    direction = _direction(record, ctx.table)
    disposition = _disposition(record, ctx)
    outcome = ctx.table.outcome_for_disposition(disposition.label if disposition else None)
    ours, theirs = _numbers(record, direction, ctx.phone_region)
    return Call(
        source=SourceIdentity(system=SYSTEM, connection=ctx.connection, external_id=external_id),
        started_at=_start(record),
        outcome=outcome or _outcome(answered, human, ctx.table),
        direction=direction,
        from_number=_phone(record.get("from"), ctx.phone_region),
        to_number=_phone(record.get("to"), ctx.phone_region),
        duration_seconds=_duration(record),
        answered=answered,
        human=human,
        disposition=disposition,
        sequence_action=_sequence_action(record, ctx),
        user=_user(record, ours),
        contact=_contact(record, theirs),
        note=_text(record.get("notes")),
        transcript=_transcript(record),
        recording_url=_text(record.get("recording_url")),
        copy_of=split_marker(_text(record.get("transcription")))[1],
        raw=record,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _flag(record: JsonDict, name: str) -> bool | None:
    value = record.get(name)
    if value is not None and not isinstance(value, bool):
        raise MappingFailure(f"`{name}` is {value!r}, not a boolean")
    return value


def _start(record: JsonDict) -> datetime:
    raw = record.get("start_date")
    try:
        parsed = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MappingFailure(f"`start_date` {raw!r} is not an ISO 8601 instant with a zone")
    return parsed.astimezone(UTC)


def _duration(record: JsonDict) -> int | None:
    value = record.get("duration")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MappingFailure(f"`duration` is {value!r}, not a number of seconds")
    return value


def _outcome(answered: bool | None, human: bool | None, table: VendorTable) -> Outcome:
    if not answered:
        key = "not_answered"
    elif human is None:
        return Outcome.UNKNOWN  # answered, but by whom is not said: claim nothing
    else:
        key = "answered_human" if human else "answered_machine"
    return table.read("outcome", key) or Outcome.UNKNOWN


def _direction(record: JsonDict, table: VendorTable) -> Direction | None:
    raw = record.get("direction")
    if raw is None:
        return None  # PostHog-only field; logged calls have none
    if not isinstance(raw, str):
        raise MappingFailure(f"`direction` is {raw!r}, not a string")
    return table.read("direction", raw)


def _disposition(record: JsonDict, ctx: MappingContext) -> VendorLabel | None:
    disposition_id = _text(record.get("disposition_id"))
    if disposition_id is None:
        return None
    known = ctx.disposition(disposition_id)
    # A disposition deleted from the account since the call: keep the name the call carries.
    label = known.name if known and known.name else _text(record.get("disposition_name"))
    return VendorLabel(id=disposition_id, label=label)


def _sequence_action(record: JsonDict, ctx: MappingContext) -> SequenceAction | None:
    disposition_id = _text(record.get("disposition_id"))
    known = None if disposition_id is None else ctx.disposition(disposition_id)
    if known is None or known.action is None:
        return None
    return ctx.table.read("sequence_action", known.action)


def _phone(raw: Any, region: str) -> PhoneNumber | None:
    return PhoneNumber.parse(raw, region) if _text(raw) else None


def _numbers(
    record: JsonDict, direction: Direction | None, region: str
) -> tuple[PhoneNumber | None, PhoneNumber | None]:
    """(the rep's number, the contact's number) when the direction says which is which."""
    caller, callee = _phone(record.get("from"), region), _phone(record.get("to"), region)
    if direction is Direction.OUTBOUND:
        return caller, callee
    if direction is Direction.INBOUND:
        return callee, caller
    return None, None


def _user(record: JsonDict, phone: PhoneNumber | None) -> Party | None:
    user_id, email = _text(record.get("user_id")), _text(record.get("user_email"))
    if user_id is None and email is None:
        return None
    ids = {SYSTEM: user_id} if user_id else {}
    return Party(email=email, phone=phone, ids=ids)


def _contact(record: JsonDict, phone: PhoneNumber | None) -> Party | None:
    contact = record.get("contact")
    if contact is None:
        return None
    if not isinstance(contact, dict):
        raise MappingFailure(f"`contact` is {contact!r}, not an object")
    contact_id = _text(contact.get("id"))
    return Party(
        name=_text(contact.get("name")),
        email=_text(contact.get("email")),
        phone=phone,
        ids={SYSTEM: contact_id} if contact_id else {},
    )


def _transcript(record: JsonDict) -> str | None:
    """``transcription`` (plain text, without the reference line callsync appends to the calls
    it logs), else the ``transcript`` entries as ``speaker: text`` lines. The entry shape is
    undocumented (PostHog names the field only): unconfirmed."""
    text = _text(split_marker(_text(record.get("transcription")))[0])
    entries = record.get("transcript")
    if text is not None or not isinstance(entries, list):
        return text
    lines = [line for line in map(_transcript_line, entries) if line]
    return "\n".join(lines) or None


def _transcript_line(entry: Any) -> str | None:
    if isinstance(entry, str):
        return _text(entry)
    if not isinstance(entry, dict):
        return None
    said = next((entry[k] for k in ("text", "content", "transcript") if _text(entry.get(k))), None)
    if said is None:
        return None
    who = next((entry[k] for k in ("speaker", "name", "role") if _text(entry.get(k))), None)
    return f"{who}: {said}" if who else str(said)
