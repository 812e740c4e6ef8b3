"""The JSON:API building blocks Outreach speaks: timestamps, error objects and page cursors.

Facts cited as "doc §x" are from shared/vendor-apis/amplemarket-outreach.md, section 2.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Requests must declare exactly this media type, otherwise 415 (doc §2.1).
MEDIA_TYPE = "application/vnd.api+json"
# What a Rails JSON:API server answers with; clients must not compare it byte for byte.
RESPONSE_CONTENT_TYPE = "application/vnd.api+json; charset=utf-8"

ERROR_TITLES = {
    "validationError": "Validation Error",
    "resourceNotFound": "Resource Not Found",
    "unsupportedMediaType": "Unsupported Media Type",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "unauthorizedOauthScope": "Unauthorized OAuth Scope",
    "unauthorized": "Unauthorized",
    "methodNotAllowed": "Method Not Allowed",
    "scheduledServerMaintenance": "Scheduled Server Maintenance",
    "internalServerError": "Internal Server Error",
}


# --- timestamps ---------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """An Outreach timestamp: UTC, second precision, always ``.000Z`` (doc §2.8).

    Sub-second parts are truncated, as a DATETIME(0) column would store them (whether the
    vendor truncates or rounds is unconfirmed; truncation never moves a value forward).
    """
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return f"{moment.replace(microsecond=0, tzinfo=None).isoformat()}.000Z"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp from a client; a value without an offset is read as UTC.

    Raises ``ValueError`` for anything else.
    """
    parsed = datetime.fromisoformat(text.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def filter_bound(text: str) -> str:
    """A filter value in the stored format, kept to the millisecond, so that plain string
    comparison with stored ``...SS.000Z`` values orders correctly."""
    moment = parse_timestamp(text)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --- errors -------------------------------------------------------------------------------


def error_object(
    code: str, detail: str, *, pointer: str | None = None, parameter: str | None = None
) -> dict[str, Any]:
    """One member of the top-level ``errors`` array (doc §2.11)."""
    found: dict[str, Any] = {
        "id": code,
        "title": ERROR_TITLES.get(code, code),
        "detail": detail,
    }
    if pointer is not None:
        found["source"] = {"pointer": pointer}
    elif parameter is not None:
        found["source"] = {"parameter": parameter}
    return found


# --- cursors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A keyset position: the sort value and id of the last record of a page.

    Encoded like the real one (doc §2.3: base64 JSON ``{"cn","sp","sv","id","v"}``). ``sq`` is
    the emulator's own storage order, which follows id order, so resuming is an index seek.
    """

    controller: str
    sort: str
    value: Any
    id: int
    seq: int | None

    def encode(self) -> str:
        payload: dict[str, Any] = {
            "cn": self.controller,
            "sp": self.sort,
            "sv": [self.value],
            "id": self.id,
        }
        if self.seq is not None:
            payload["sq"] = self.seq
        payload["v"] = 1
        return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ``ValueError`` for anything that is not a cursor this emulator issued."""
        try:
            payload = json.loads(base64.b64decode(text.encode(), validate=True))
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError("not a page cursor") from error
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise ValueError("not a page cursor")
        values, ident, seq = payload.get("sv"), payload.get("id"), payload.get("sq")
        if not isinstance(values, list) or len(values) != 1 or not isinstance(ident, int):
            raise ValueError("not a page cursor")
        if seq is not None and not isinstance(seq, int):
            raise ValueError("not a page cursor")
        return cls(str(payload.get("cn")), str(payload.get("sp")), values[0], ident, seq)
