"""A canonical call as the body of ``POST /activity/call/`` (close-pipedrive.md §1.6, §1.13).

Field by field (values through ``mappings/close.yaml``, i.e. ``context.table``):

=================  ============================================================================
``lead_id``         the resolved lead; ``contact_id`` its resolved contact; ``user_id`` the rep
``direction``       table ``direction``; left out when the source does not say
``status``          table ``outcome_status`` (``disposition`` is read-only, gotcha c); lossy
``outcome_id``      the Close outcome named in setting ``outcomes`` for the canonical outcome,
                    only on ``completed`` calls (§1.7: only connected calls carry an outcome)
``duration``        whole seconds (``ended_at - started_at`` when the source has no duration);
                    more than 604800 (7 days) is refused before sending (``resolve`` parks it)
``phone``           the other side's number in E.164 (to for outbound, from for inbound; the
                    contact's number when the direction is unknown); left out if not parseable
``activity_at``     ``started_at`` (when the call happened), UTC, cut to Close's milliseconds
``note``            plain text (``note_html`` would replace it, gotcha d) + callsync's marker line
``recording_url``   passed through only when ``https://`` (§1.6), else left out;
``voicemail_url``   same rule
``custom.<cf_id>``  the marker again, when ``marker_custom_field_id`` is configured
=================  ============================================================================

Not writable, so never sent: ``disposition``, ``call_method`` (set by Close's dialer), the rep's
own number (``local_phone`` is derived by Close telephony), ``cost``, sequence fields,
transcripts (they can only be deleted), tags, ``answered_at``, the source's own disposition
label and purpose.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import JsonDict
from connectors.close.marker import with_marker
from connectors.close.settings import CloseSettings
from connectors.close.times import to_ms
from syncer.errors import MappingFailure
from syncer.mapping import VendorTable
from syncer.model import Call, Direction, PhoneNumber

COMPLETED = "completed"
MAX_DURATION = 604_800  # create/update schema: integer <= 7 days (§1.3)


def remote_number(call: Call, region: str) -> str | None:
    """The other side's number in E.164: ``to`` of an outbound call, ``from`` of an inbound
    one, the contact's own number when the direction is unknown."""
    side = None
    if call.direction is Direction.OUTBOUND:
        side = call.to_number
    elif call.direction is Direction.INBOUND:
        side = call.from_number
    fallback = call.contact.phone if call.contact else None
    for number in (side, fallback):
        if number is None:
            continue
        e164 = number.e164 or PhoneNumber.parse(number.raw, region).e164
        if e164:
            return e164
    return None


def status(call: Call, table: VendorTable) -> str:
    return table.write("outcome_status", call.outcome)


def unwritable(call: Call) -> str | None:
    """Why Close would refuse this call whatever it is linked to (checked before sending)."""
    seconds = _seconds(call)
    if seconds is not None and seconds > MAX_DURATION:
        return f"duration {seconds}s is longer than Close accepts ({MAX_DURATION}s)"
    return None


def duration(call: Call) -> int | None:
    problem = unwritable(call)
    if problem is not None:
        raise MappingFailure(problem)
    return _seconds(call)


def _seconds(call: Call) -> int | None:
    seconds = call.duration_seconds
    if seconds is None and call.ended_at is not None:
        seconds = max(0, int((call.ended_at - call.started_at).total_seconds()))
    return seconds


def https_url(url: str | None) -> str | None:
    """Close takes only ``https://`` media URLs (§1.6); anything else is left out."""
    return url if url is not None and url.startswith("https://") else None


def call_body(
    call: Call,
    marker: str,
    links: Mapping[str, str | int | None],
    *,
    table: VendorTable,
    settings: CloseSettings,
    region: str,
) -> JsonDict:
    """The complete create body (every key is one Close documents for ``POST``)."""
    call_status = status(call, table)
    body: JsonDict = {
        "lead_id": links["lead_id"],
        "contact_id": links["contact_id"],
        "user_id": links["user_id"],
        "status": call_status,
        "activity_at": to_ms(call.started_at).isoformat(),
        "note": with_marker(call.note, marker),
    }
    if call.direction is not None:
        body["direction"] = table.write("direction", call.direction)
    optional = {
        "duration": duration(call),
        "phone": remote_number(call, region),
        "outcome_id": links.get("outcome_id") if call_status == COMPLETED else None,
        "recording_url": https_url(call.recording_url),
        "voicemail_url": https_url(call.voicemail_url),
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if settings.marker_custom_field_id:
        body[f"custom.{settings.marker_custom_field_id}"] = marker
    return body
