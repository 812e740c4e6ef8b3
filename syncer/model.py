"""The canonical call: one vendor-neutral shape every connector reads into and writes from.

The model is pure (no I/O) and strict: frozen, unknown fields rejected, datetimes timezone-aware
and normalised to UTC, phone numbers normalised to E.164 with the raw string kept. A value that
a vendor cannot express is never invented here; lossy conversions live in ``mappings/``.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
)

from syncer import jsontext

# Every call_uid is a uuid5 in this namespace, so the same source record always gets the same id
# on every machine and every run (it is also the marker callsync leaves in targets).
CALL_UID_NAMESPACE = uuid.UUID("6f1f2f8e-3c1d-5b7a-9a43-0c5e5d1f2a10")


class Outcome(StrEnum):
    """What happened on the call, closed over every vendor's vocabulary."""

    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL_LEFT = "voicemail_left"
    VOICEMAIL_NO_MESSAGE = "voicemail_no_message"
    # A machine answered but the source cannot say whether a message was left (Amplemarket).
    VOICEMAIL = "voicemail"
    MESSAGE_LEFT = "message_left"
    WRONG_NUMBER = "wrong_number"
    BLOCKED = "blocked"
    FAILED = "failed"
    ABANDONED = "abandoned"
    UNKNOWN = "unknown"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallMethod(StrEnum):
    REGULAR = "regular"
    POWER = "power"
    PREDICTIVE = "predictive"


class SequenceAction(StrEnum):
    ADVANCE = "advance"
    FINISH = "finish"
    FINISH_NO_REPLY = "finish_no_reply"
    FINISH_REPLIED = "finish_replied"


class System(StrEnum):
    """The vendor systems callsync knows; third-party connectors may add kinds by name."""

    AMPLEMARKET = "amplemarket"
    OUTREACH = "outreach"
    CLOSE = "close"
    PIPEDRIVE = "pipedrive"


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, stored in UTC. A naive datetime is a validation error."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PhoneNumber(_Frozen):
    """A phone number as the vendor sent it, plus its E.164 form when it could be parsed.

    An unparseable number is kept (``e164`` is None, ``valid`` False) rather than dropped, so
    nothing the vendor said is lost and matching simply skips it.
    """

    raw: str
    e164: str | None = None
    valid: bool = False

    @classmethod
    def parse(cls, raw: str, default_region: str | None = "US") -> PhoneNumber:
        """Normalise ``raw``; national-format numbers are read in ``default_region``."""
        return _parse_phone(raw, default_region)


@functools.lru_cache(maxsize=65536)
def _parse_phone(raw: str, default_region: str | None) -> PhoneNumber:
    # Parsing costs ~100 µs and the same few thousand numbers recur on every page, so results
    # (immutable) are cached.
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return PhoneNumber(raw=raw)
    if not phonenumbers.is_possible_number(parsed):
        return PhoneNumber(raw=raw)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return PhoneNumber(raw=raw, e164=e164, valid=phonenumbers.is_valid_number(parsed))


class VendorLabel(_Frozen):
    """A vendor's own categorisation (disposition, purpose, outcome): its id and its label."""

    id: str | None = None
    label: str | None = None


class Party(_Frozen):
    """A user or contact on the call, with the ids each system knows them by."""

    name: str | None = None
    email: str | None = None
    phone: PhoneNumber | None = None
    ids: dict[str, str] = Field(default_factory=dict)


class SequenceContext(_Frozen):
    id: str | None = None
    name: str | None = None
    step: str | None = None


class SourceIdentity(_Frozen):
    """Where a call came from: the system, the configured connection and the vendor's id."""

    system: str
    connection: str
    external_id: str = Field(min_length=1)
    source_updated_at: UtcDatetime | None = None

    @property
    def call_uid(self) -> str:
        """A stable id derived from the identity; equal inputs give equal ids everywhere."""
        return _call_uid(self.system, self.connection, self.external_id)


@functools.lru_cache(maxsize=8192)
def _call_uid(system: str, connection: str, external_id: str) -> str:
    # A pull asks for a call's uid several times within its page: a small cache.
    return uuid5_text(CALL_UID_NAMESPACE, f"{system}:{connection}:{external_id}")


def uuid5_text(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` in a quarter of its time (no ``UUID`` object, whose
    construction and printing were most of a new call's uid): SHA-1 of namespace and name, the
    version (5) and RFC 4122 variant bits set, printed 8-4-4-4-12."""
    sha1 = hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False)
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Call(_Frozen):
    """One phone call in callsync's vendor-neutral form."""

    source: SourceIdentity
    started_at: UtcDatetime
    outcome: Outcome = Outcome.UNKNOWN
    direction: Direction | None = None
    from_number: PhoneNumber | None = None
    to_number: PhoneNumber | None = None
    answered_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    duration_seconds: NonNegativeInt | None = None
    answered: bool | None = None
    human: bool | None = None
    disposition: VendorLabel | None = None
    purpose: VendorLabel | None = None
    call_method: CallMethod | None = None
    sequence: SequenceContext | None = None
    sequence_action: SequenceAction | None = None
    user: Party | None = None
    contact: Party | None = None
    note: str | None = None
    transcript: str | None = None
    recording_url: str | None = None
    voicemail_url: str | None = None
    tags: tuple[str, ...] = ()
    cost_cents: Decimal | None = Field(default=None, description="cost in US cents")
    deleted_at: UtcDatetime | None = None
    # The call_uid of the canonical call this record is callsync's own copy of (the marker found
    # in it on read); None for records nobody but the vendor's users wrote.
    copy_of: str | None = None
    # The vendor payload exactly as parsed from its JSON response. Typed loosely on purpose:
    # validating every nested value again would cost more than the rest of the model.
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def call_uid(self) -> str:
        return self.source.call_uid

    def content_hash(self) -> str:
        """A digest of what the call says, ignoring bookkeeping that changes on every read.

        Two reads of an unchanged call hash equal, so unchanged calls cost no write.
        """
        return content_hash_of(canonical_json(self))


def canonical_json(call: Call) -> dict[str, Any]:
    """The JSON form stored in the database (everything but the raw payload)."""
    return call.model_dump(mode="json", exclude={"raw"})


def content_hash_of(data: dict[str, Any]) -> str:
    """:meth:`Call.content_hash` from the call's :func:`canonical_json` (computed once)."""
    source = data["source"]
    # Bookkeeping (where the record lives, whose copy it is) is not what the call says.
    payload = {key: value for key, value in data.items() if key not in ("source", "copy_of")}
    payload["source_id"] = [source["system"], source["external_id"]]
    return hashlib.sha256(jsontext.stable(payload).encode()).hexdigest()
