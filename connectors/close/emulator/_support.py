"""Small shared pieces of the Close emulator: ids, timestamps, phones, errors, paging, `_fields`.

Everything here encodes a documented Close convention (close-pipedrive.md §1); the comment on
each helper names the fact it follows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import phonenumbers

from connectors.emulation import ApiError, EmuRequest

API = "/api/v1"  # Close's base path after the origin (§1.2)
ORG_ID = "orga_cs7Emu1atedC1oseOrgan1zat10nForCa11syncDem0x"
ORG_NAME = "callsync demo (Close emulator)"

_ALNUM = str.maketrans("+/=", "xQz")  # base64 -> base62-looking ids
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


# --- ids --------------------------------------------------------------------------------------


def make_id(prefix: str, token: str, length: int = 43) -> str:
    """A Close-looking id (``acti_`` + 43 base62 chars), stable for the same ``token``.

    Deterministic ids let tests and seeding name records without storing a lookup table.
    """
    digest = hashlib.sha512(f"{prefix}:{token}".encode()).digest()
    text = base64.b64encode(digest).decode().translate(_ALNUM)
    return f"{prefix}_{text[:length]}"


# --- timestamps -------------------------------------------------------------------------------


def to_ms(moment: datetime) -> datetime:
    """Close stores timestamps with millisecond precision (§1.9)."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime | None) -> str | None:
    """Object timestamps as Close prints them: ``2024-03-20T06:34:33.637000+00:00``.

    Like Close's Python backend, a whole-second value prints without a fraction
    (``2024-03-20T06:33:10+00:00``, §1.13), so clients must parse both shapes.
    """
    return None if moment is None else moment.astimezone(UTC).isoformat()


def iso_naive(moment: datetime) -> str:
    """Event-log timestamps carry no offset (§1.13 example: ``2024-03-21T09:00:00.120000``)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def micros(moment: datetime) -> int:
    """A sortable integer key for a timestamp (microseconds since the epoch)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def parse_datetime(value: str) -> datetime:
    """Parse an ISO-8601 value from a client (``Z`` accepted); raises ``ValueError``."""
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))


def tz_offset(request: EmuRequest) -> timezone:
    """The ``x-tz-offset`` header (hours, may be fractional: ``-2.5``), UTC when absent (§1.2)."""
    raw = request.header("x-tz-offset")
    if raw is None or not raw.strip():
        return UTC
    try:
        hours = float(raw)
    except ValueError:
        raise bad_request(f"Invalid x-tz-offset header: {raw!r}") from None
    return timezone(timedelta(hours=hours))


def parse_filter_time(value: str, zone: timezone, name: str) -> datetime:
    """A date filter value: an ISO date-time or a bare date (§1.5).

    Date-only values and date-times without an offset are read in the ``x-tz-offset`` zone
    (gotcha 1.12-g). UNCONFIRMED for offset-less date-times: we apply the zone to them too, the
    stricter reading, so a client that sends naive values *and* the header is caught.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), zone)
        moment = parse_datetime(text)
    except ValueError:
        raise validation({name: "Enter a valid date/time."}) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


# --- phones -----------------------------------------------------------------------------------


def is_e164(value: str) -> bool:
    return bool(_E164.match(value))


def normalize_phone(raw: str, region: str = "US") -> str | None:
    """E.164 for a number typed in any common format; national numbers use the org's country.

    Close stores contact phones in E.164 (§1.12-b); ``None`` when the number cannot be parsed.
    """
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def pretty_phone(e164: str) -> str:
    """Close's ``*_formatted`` rendering: ``+1 650-333-4444`` (§1.13)."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"+1 {e164[2:5]}-{e164[5:8]}-{e164[8:]}"
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def phone_fields(side: str, e164: str) -> dict[str, Any]:
    """``remote_phone``/``local_phone`` with their ``_formatted`` and ``_country_iso`` siblings."""
    return {
        f"{side}_phone": e164,
        f"{side}_phone_formatted": pretty_phone(e164),
        f"{side}_country_iso": phone_country(e164),
    }


def phone_country(e164: str) -> str | None:
    if e164.startswith("+1"):
        return "US"
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    return str(region) if region else None


# --- errors (§1.11) ---------------------------------------------------------------------------


def bad_request(message: str) -> ApiError:
    """A plain 400: ``{"error": "<message>"}`` (e.g. the ``_skip`` cap)."""
    return ApiError(400, "bad_request", message)


def validation(field_errors: Mapping[str, str], errors: Iterable[str] = ()) -> ApiError:
    """A validation 400: ``{"errors": [...], "field-errors": {"<field>": "<message>"}}``."""
    extra = {"errors": list(errors), "field-errors": dict(field_errors)}
    return ApiError(400, "validation", "Validation failed", extra=extra)


def not_found(message: str = "Resource not found.") -> ApiError:
    return ApiError(404, "not_found", message)


def json_body(request: EmuRequest) -> dict[str, Any]:
    """The request's JSON object body, or the 415/400 Close answers for anything else."""
    content_type = (request.header("content-type") or "application/json").lower()
    if "json" not in content_type:
        raise ApiError(415, "unsupported_media_type", f"Unsupported media type {content_type!r}.")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise bad_request("Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object.")
    return body


# --- paging and field projection ---------------------------------------------------------------


def int_param(request: EmuRequest, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation({name: "A valid integer is required."}) from None


def offset_paging(request: EmuRequest, max_limit: int, max_skip: int) -> tuple[int, int]:
    """``_limit`` (default 100) and ``_skip`` (default 0) with Close's 400s above the maxima (§1.5).

    UNCONFIRMED values: the real max ``_limit`` for calls and the real max ``_skip`` are not
    published; both are constructor tunables. Exceeding ``_skip`` answers with a message
    containing ``max_skip = N``, the string tap-closeio looks for.
    """
    limit = int_param(request, "_limit", 100)
    skip = int_param(request, "_skip", 0)
    if limit < 1 or limit > max_limit:
        raise bad_request(f"Invalid _limit: {limit}. _limit must be between 1 and {max_limit}.")
    if skip < 0:
        raise bad_request("Invalid _skip: must not be negative.")
    if skip > max_skip:
        raise bad_request(
            f"The _skip parameter is too large: max_skip = {max_skip}. "
            "Narrow your query (e.g. by date_created ranges) instead of paginating this deep."
        )
    return limit, skip


def requested_fields(request: EmuRequest) -> list[str] | None:
    raw = request.arg("_fields")
    if raw is None or not raw.strip():
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


def project(
    record: Mapping[str, Any], fields: list[str] | None, lazy: Iterable[str] = ()
) -> dict[str, Any]:
    """Apply ``_fields``: only the listed fields; lazy fields only when listed (§1.3, gotcha k)."""
    if fields is None:
        hidden = set(lazy)
        return {key: value for key, value in record.items() if key not in hidden}
    return {name: record[name] for name in fields if name in record}


def id_list(value: str | None) -> list[str]:
    """Comma-separated id lists (``lead_id=a,b``, ``id__in=a,b``)."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def encode_cursor(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Invalid cursor.") from None
    if not isinstance(payload, dict):
        raise bad_request("Invalid cursor.")
    return payload
