"""Canonical :class:`~syncer.model.Call` -> the body of ``POST /calls`` (pure, no I/O).

``POST /calls`` (vendor-apis §1.7) takes exactly: ``from``, ``to``, ``duration``, ``answered``,
``human``, ``task_id``, ``user_id`` (required) and ``transcription``, ``recording_url``,
``disposition_id`` (optional). Everything else a canonical call says has no field:

- ``started_at``: the server sets ``start_date`` to the time of logging; the true start stays
  in callsync's store;
- ``direction``: no field; ``from`` / ``to`` keep who called whom;
- ``note``, ``purpose``, ``call_method``, ``sequence``, ``tags``, ``cost_cents``,
  ``voicemail_url``, ``answered_at`` / ``ended_at``: no field (kept in callsync);
- ``contact``: only through the task (``identity`` picks it);
- ``outcome``: folded into ``answered`` + ``human`` by the mapping's write table (lossy, see
  ``mappings/amplemarket.yaml``); the disposition comes from the connection's settings.

The marker: ``transcription`` is the only free text, so callsync appends one reference line,
``[callsync:<call uid>]``, to it (``marker_in_transcription``); the read path strips it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from connectors.base import JsonDict
from syncer.mapping import VendorTable
from syncer.model import Call, Direction, PhoneNumber

MARKER_RE = re.compile(r"(?:\n*)\[callsync:([0-9a-fA-F-]{36})\]\s*\Z")
RECORDING_SCHEMES = ("https://", "http://")
# The mapping's outcome keys (mappings/amplemarket.yaml ``values``) as the two booleans.
OUTCOME_FLAGS = {
    "answered_human": (True, True),
    "answered_machine": (True, False),
    "not_answered": (False, False),
}
# POST /calls fields -> the canonical field a difference in it stands for (``update``).
CANONICAL_FIELD = {
    "from": "from_number",
    "to": "to_number",
    "duration": "duration_seconds",
    "answered": "outcome",
    "human": "outcome",
    "disposition_id": "disposition",
    "transcription": "transcript",
    "recording_url": "recording_url",
}


class UnwritableCall(ValueError):
    """The call lacks something ``POST /calls`` requires (checked before any request)."""


def marker_line(marker: str) -> str:
    return f"[callsync:{marker}]"


def split_marker(text: str | None) -> tuple[str | None, str | None]:
    """``(transcription without callsync's reference line, the marker)``."""
    if text is None:
        return None, None
    found = MARKER_RE.search(text)
    if found is None:
        return text, None
    rest = text[: found.start()]
    return (rest if rest.strip() else None), found.group(1).lower()


def number_text(phone: PhoneNumber | None) -> str | None:
    """What goes in ``from`` / ``to``: E.164 when the number parsed, else as the source wrote it."""
    if phone is None:
        return None
    text = phone.e164 or phone.raw.strip()
    return text or None


def contact_number(call: Call) -> PhoneNumber | None:
    """The person's number: ``to`` on outbound (and undirected) calls, ``from`` on inbound."""
    return call.from_number if call.direction is Direction.INBOUND else call.to_number


def number_variants(e164: str) -> list[str]:
    """The ways people and dialers write ``e164`` (Amplemarket stores numbers as typed and its
    ``to`` filter matches them character for character, §1.15.6)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    national = phonenumbers.national_significant_number(parsed)
    fmt = phonenumbers.PhoneNumberFormat
    variants = [
        e164,
        phonenumbers.format_number(parsed, fmt.INTERNATIONAL),
        phonenumbers.format_number(parsed, fmt.NATIONAL),
        f"+{parsed.country_code} {national}",  # the docs' own example: "+1 123456789"
    ]
    if parsed.country_code == 1 and len(national) == 10:
        variants.append(f"{national[:3]}.{national[3:6]}.{national[6:]}")
    return list(dict.fromkeys(variants))


def duration_of(call: Call) -> int:
    """``duration`` (required): the call's own, else from its timestamps, else 0 (lossy)."""
    if call.duration_seconds is not None:
        return call.duration_seconds
    if call.ended_at is not None:
        begin = call.answered_at or call.started_at
        return max(0, int((call.ended_at - begin).total_seconds()))
    return 0


def outcome_flags(call: Call, table: VendorTable) -> tuple[bool, bool]:
    key = table.write("outcome", call.outcome)
    if key not in OUTCOME_FLAGS:
        raise UnwritableCall(f"outcome {call.outcome} maps to {key!r}, not one of {OUTCOME_FLAGS}")
    return OUTCOME_FLAGS[key]


def recording_url(call: Call) -> str | None:
    """The source's recording URL when it is an absolute http(s) URL (no other form can be
    fetched by Amplemarket); anything else is left out."""
    url = (call.recording_url or "").strip()
    return url if url.lower().startswith(RECORDING_SCHEMES) and len(url) > 8 else None


def transcription(call: Call, marker: str | None) -> str | None:
    text = call.transcript if call.transcript and call.transcript.strip() else None
    if marker is None:
        return text
    return marker_line(marker) if text is None else f"{text}\n\n{marker_line(marker)}"


def check_writable(call: Call) -> None:
    """Raise :class:`UnwritableCall` for what no retry can fix."""
    for name, phone in (("from", call.from_number), ("to", call.to_number)):
        if number_text(phone) is None:
            raise UnwritableCall(f"the call has no `{name}` number; POST /calls requires both")


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a logged call among a user's calls to one number (no marker needed)."""

    from_number: str
    to_number: str
    duration: int
    answered: bool
    human: bool

    @classmethod
    def of(cls, call: Call, table: VendorTable) -> Fingerprint:
        check_writable(call)
        answered, human = outcome_flags(call, table)
        caller, callee = number_text(call.from_number), number_text(call.to_number)
        assert caller is not None  # check_writable
        assert callee is not None
        return cls(caller, callee, duration_of(call), answered, human)

    def matches(self, record: JsonDict) -> bool:
        return (
            record.get("external") is True
            and record.get("from") == self.from_number
            and record.get("to") == self.to_number
            and record.get("duration") == self.duration
            and record.get("answered") == self.answered
            and record.get("human") == self.human
        )


def build(
    call: Call,
    *,
    table: VendorTable,
    user_id: str,
    task_id: str,
    disposition_id: str | None,
    marker: str | None,
) -> JsonDict:
    """The ``POST /calls`` body, optional fields left out when empty."""
    print_ = Fingerprint.of(call, table)
    body: JsonDict = {
        "from": print_.from_number,
        "to": print_.to_number,
        "duration": print_.duration,
        "answered": print_.answered,
        "human": print_.human,
        "transcription": transcription(call, marker),
        "recording_url": recording_url(call),
        "disposition_id": disposition_id,
        "task_id": task_id,
        "user_id": user_id,
    }
    return {key: value for key, value in body.items() if value is not None}


def first_difference(remote: JsonDict, wanted: JsonDict) -> str | None:
    """The canonical field whose value differs between a logged call and a new body (None:
    everything Amplemarket holds is already right). The reference line does not count."""
    for name in CANONICAL_FIELD:
        have, want = remote.get(name), wanted.get(name)
        if name == "transcription":
            have, want = split_marker(have)[0], split_marker(want)[0]
        if have != want:
            return CANONICAL_FIELD[name]
    return None


def distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
