"""Pipedrive wire formats: envelopes, error helpers, timestamps, query parsing, cursors.

Everything here is a documented Pipedrive convention (vendor-apis/close-pipedrive.md §2):
the ``{success, data, additional_data}`` envelope, the ``{success: false, error, error_info}``
error shape, call-log times sent as ``YYYY-MM-DD HH:MM:SS`` and returned as ``...000Z``, v2
times in RFC 3339 with second precision.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.emulation import ApiError, EmuRequest, EmuResponse

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."

# Error codes the emulator raises (the framework itself uses "not_found" for unknown paths and
# "server_error" for injected 5xx; render_error tells them apart by these codes).
BAD_REQUEST = "bad_request"
MISSING = "resource_missing"
FORBIDDEN = "forbidden"
GONE = "gone"
CONFLICT = "conflict"
UNAUTHORIZED = "unauthorized"
RATE_LIMITED = "rate_limited"
CLOUDFLARE = "cloudflare_block"

NOT_FOUND_MESSAGE = "A resource required for this operation was not found."


def ok(data: Any, additional_data: dict[str, Any] | None = None) -> EmuResponse:
    """A success envelope. Pipedrive answers 200 even for creates (§2.6)."""
    payload: dict[str, Any] = {"success": True, "data": data}
    if additional_data is not None:
        payload["additional_data"] = additional_data
    return EmuResponse.json(200, payload)


def bad_request(message: str) -> ApiError:
    return ApiError(400, BAD_REQUEST, message)


def not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    return ApiError(404, MISSING, message)


def forbidden(message: str = "You don't have permission to change this resource.") -> ApiError:
    return ApiError(403, FORBIDDEN, message)


def request_json(request: EmuRequest) -> Any:
    """The JSON body; a body that does not parse is a 400, as on any JSON API."""
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Invalid JSON in request body") from None


# --- timestamps --------------------------------------------------------------------------------

_V1_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def whole_seconds(moment: datetime) -> datetime:
    """Pipedrive stores second precision: many records share one timestamp."""
    return moment.astimezone(UTC).replace(microsecond=0)


def utc_date(moment: datetime) -> str:
    """``YYYY-MM-DD`` of the UTC moment (f-strings: seeding formats millions of these)."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def utc_clock(moment: datetime) -> str:
    """``HH:MM:SS`` of the UTC moment."""
    moment = moment.astimezone(UTC)
    return f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"


def iso_millis(moment: datetime) -> str:
    """Call-log times come back as ISO with a literal ``.000Z`` (§2.3, §2.11a)."""
    return f"{utc_date(moment)}T{utc_clock(moment)}.000Z"


def rfc3339(moment: datetime) -> str:
    """v2 times: RFC 3339, UTC, second precision (``2024-03-20T14:06:30Z``)."""
    return f"{utc_date(moment)}T{utc_clock(moment)}Z"


def v1_time(moment: datetime) -> str:
    """v1 user/person times: ``YYYY-MM-DD HH:MM:SS``."""
    return f"{utc_date(moment)} {utc_clock(moment)}"


def parse_v1_time(text: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, exactly; None for anything else (ISO with ``T`` too)."""
    if not _V1_TIME.match(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 date-time with a zone (``Z`` or an offset); None when it is not one."""
    if "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def rfc3339_ceiling(moment: datetime) -> str:
    """The first whole second at or after ``moment``, so bounds on second-precision keys stay
    exact when the caller sends fractional seconds."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return rfc3339(moment)


def hms(seconds: int) -> str:
    """An activity duration, ``HH:MM:SS`` (§2.11b)."""
    hours, rest = divmod(max(0, seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


# --- query parameters --------------------------------------------------------------------------


def int_arg(request: EmuRequest, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f'"{name}" must be a number') from None


def optional_int_arg(request: EmuRequest, name: str) -> int | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    return int_arg(request, name, 0)


def bool_arg(request: EmuRequest, name: str) -> bool | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f'"{name}" must be a boolean')


def v2_limit(request: EmuRequest, maximum: int) -> int:
    """v2 ``limit``: default 100, at most ``maximum`` (500).

    UNCONFIRMED whether v2 clamps or rejects a larger limit: the emulator rejects it (400), the
    strict reading, so a client that asks for more than documented finds out here.
    """
    limit = int_arg(request, "limit", min(100, maximum))
    if limit < 1 or limit > maximum:
        raise bad_request(f'"limit" must be between 1 and {maximum}')
    return limit


# --- opaque cursors ----------------------------------------------------------------------------


def encode_cursor(payload: dict[str, Any]) -> str:
    """Pipedrive's cursors are base64url JSON without padding (see the v2 spec examples)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("Invalid cursor") from None
    if not isinstance(payload, dict):
        raise bad_request("Invalid cursor")
    return payload
