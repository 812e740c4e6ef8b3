"""A Close call activity (§1.3, example §1.13) as a canonical :class:`~syncer.model.Call`.

Value cross-walks come from ``mappings/close.yaml`` (``context.table``); this module holds
what needs code: which fields feed which canonical field, units and fallbacks.

- outcome: ``disposition`` through the table; when the call carries a custom outcome
  (``outcome_id``, labels from ``GET /outcome/``) that the connection's ``outcome_by_disposition``
  knows, that refines it (Close's "answered" does not say "wrong number"). API-logged calls
  have no disposition: their outcome is ``unknown`` (the table reads nothing from ``status``).
- ``Call.disposition`` is the custom outcome: its id and its label (None once deleted, §1.7).
- started_at = ``activity_at`` (when the call happened), else ``date_created``; ended_at =
  start + ``duration``; source_updated_at = ``date_updated``.
- numbers: the rep's ``local_phone`` and the other side's ``remote_phone`` (``phone``), turned
  into from/to by ``direction`` (none without one); both also sit on the user/contact parties.
- ``note``: without the ``callsync:<uid>`` line callsync adds to calls it logs (``marker.py``).
- ``cost`` is a string of US cents (gotcha a) -> Decimal; ``call_method: external`` -> None.
- ids: user ``{"close": user_...}``, contact ``{"close": cont_..., "close:lead": lead_...}``.

A value the table does not know, a malformed timestamp or number raises ``MappingFailure``:
the engine quarantines that record with the reason and goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import JsonDict
from connectors.close.marker import split_marker
from connectors.close.times import parse_time
from connectors.fields import optional_text, optional_time
from syncer.errors import MappingFailure
from syncer.mapping import UnmappedValueError, VendorTable
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

KIND = "close"
TALKED = frozenset({Outcome.CONNECTED, Outcome.MESSAGE_LEFT, Outcome.WRONG_NUMBER})
NOBODY = frozenset(
    {Outcome.NO_ANSWER, Outcome.BUSY, Outcome.BLOCKED, Outcome.FAILED, Outcome.ABANDONED}
)
MACHINE = frozenset({Outcome.VOICEMAIL, Outcome.VOICEMAIL_LEFT, Outcome.VOICEMAIL_NO_MESSAGE})


def record_key(record: JsonDict) -> str:
    key = record["id"]
    if not isinstance(key, str) or not key:
        raise ValueError("a Close call without an id")
    return key


def to_call(
    record: JsonDict,
    *,
    connection: str,
    table: VendorTable,
    region: str,
    outcomes: Mapping[str, str],
    user_emails: Mapping[str, str] | None = None,
) -> Call:
    """The canonical call of one Close call record (``MappingFailure`` if impossible).

    Calls name their user by id only; ``user_emails`` (user id -> email, from ``GET /user/``)
    adds the email every other tool finds the rep by.
    """
    email = (user_emails or {}).get(_text(record, "user_id") or "") or None
    try:
        return _to_call(record, connection, table, region, outcomes, email)
    except UnmappedValueError as error:
        raise MappingFailure(str(error)) from None


def _to_call(
    record: JsonDict,
    connection: str,
    table: VendorTable,
    region: str,
    outcomes: Mapping[str, str],
    user_email: str | None,
) -> Call:
    external_id = _text(record, "id")
    if external_id is None:
        raise MappingFailure("the call has no id")
    started = _time(record, "activity_at") or _time(record, "date_created")
    if started is None:
        raise MappingFailure("the call has neither activity_at nor date_created")
    duration = _integer(record, "duration")
    direction = _read(table, "direction", record)
    outcome_id = _text(record, "outcome_id")
    label = outcomes.get(outcome_id) if outcome_id else None
    outcome = _outcome(table, record, label)
    remote = _phone(record, "remote_phone", region) or _phone(record, "phone", region)
    local = _phone(record, "local_phone", region)
    return Call(
        source=SourceIdentity(
            system=KIND,
            connection=connection,
            external_id=external_id,
            source_updated_at=_time(record, "date_updated"),
        ),
        started_at=started,
        ended_at=None if duration is None else started + timedelta(seconds=duration),
        duration_seconds=duration,
        outcome=outcome,
        answered=True if outcome in TALKED else False if outcome in NOBODY | MACHINE else None,
        human=True if outcome in TALKED else False if outcome in MACHINE else None,
        direction=direction,
        # Without a direction (optional on logged calls) neither side is guessed: the numbers
        # stay on the user/contact parties.
        from_number={Direction.INBOUND: remote, Direction.OUTBOUND: local}.get(direction),
        to_number={Direction.INBOUND: local, Direction.OUTBOUND: remote}.get(direction),
        disposition=VendorLabel(id=outcome_id, label=label) if outcome_id else None,
        call_method=_read(table, "call_method", record),
        sequence=_sequence(record),
        # The email is given at once: copying the call to add it cost a tenth of the mapping.
        user=_party(record, "user_id", "user_name", local, {}, user_email),
        contact=_party(
            record, "contact_id", None, remote, {"close:lead": _text(record, "lead_id")}
        ),
        note=split_marker(_text(record, "note"))[0],
        copy_of=split_marker(_text(record, "note"))[1],
        transcript=_transcript(record),
        recording_url=_text(record, "recording_url"),
        voicemail_url=_text(record, "voicemail_url"),
        cost_cents=_cents(record),
        raw=record,
    )


def _outcome(table: VendorTable, record: JsonDict, label: str | None) -> Outcome:
    base = _read(table, "outcome", record, field="disposition")
    refined = table.outcome_for_disposition(label)
    return refined or base or Outcome.UNKNOWN


def _read(table: VendorTable, dimension: str, record: JsonDict, field: str | None = None) -> Any:
    value = record.get(field or dimension)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingFailure(f"{field or dimension}: expected a string, got {value!r}")
    return table.read(dimension, value)


def _text(record: JsonDict, key: str) -> str | None:
    return optional_text(record, key)


def _time(record: JsonDict, key: str) -> datetime | None:
    return optional_time(record, key, parse_time)


def _integer(record: JsonDict, key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None  # Close sends null durations for failed and some logged calls
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MappingFailure(f"{key}: expected a non-negative integer, got {value!r}")
    return value


def _cents(record: JsonDict) -> Decimal | None:
    value = record.get("cost")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MappingFailure(f"cost: expected cents, got {value!r}")
    try:
        cents = Decimal(str(value))
    except InvalidOperation:
        raise MappingFailure(f"cost: not a number of cents: {value!r}") from None
    if not cents.is_finite():
        raise MappingFailure(f"cost: not a number of cents: {value!r}")
    return cents


def _phone(record: JsonDict, key: str, region: str) -> PhoneNumber | None:
    value = _text(record, key)
    return None if value is None else PhoneNumber.parse(value, region)


def _party(
    record: JsonDict,
    id_key: str,
    name_key: str | None,
    phone: PhoneNumber | None,
    extra: dict[str, str | None],
    email: str | None = None,
) -> Party | None:
    ids = {KIND: _text(record, id_key), **extra}
    known = {system: value for system, value in ids.items() if value is not None}
    name = _text(record, name_key) if name_key else None
    if not known and name is None and phone is None:
        return None
    return Party(name=name, email=email, phone=phone, ids=known)


def _sequence(record: JsonDict) -> SequenceContext | None:
    sequence_id, name = _text(record, "sequence_id"), _text(record, "sequence_name")
    if sequence_id is None and name is None:
        return None
    return SequenceContext(id=sequence_id, name=name)


def _transcript(record: JsonDict) -> str | None:
    """Recording and voicemail transcripts (present only when asked for via ``_fields``)."""
    parts = [_render(record.get(key)) for key in ("recording_transcript", "voicemail_transcript")]
    text = "\n\n".join(part for part in parts if part)
    return text or None


def _render(transcript: Any) -> str | None:
    if not isinstance(transcript, dict):
        return None
    lines = [
        f"{u.get('speaker_label') or u.get('speaker_side') or '?'}: {u.get('text', '')}".strip()
        for u in transcript.get("utterances") or []
        if isinstance(u, dict)
    ]
    summary = transcript.get("summary_text")
    return "\n".join(lines) or (summary if isinstance(summary, str) and summary else None)
