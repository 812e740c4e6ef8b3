"""Error responses in Outreach's shapes (doc §2.11).

- API errors: JSON:API ``{"errors": [{"id", "title", "detail", "source"?}]}`` with a stable
  camelCase ``id`` (validationError, resourceNotFound, unauthorizedOauthScope,
  rateLimitExceeded, ...).
- 415 ``unsupportedMediaType`` says ``details`` (plural), as the vendor's own example does.
- 503 ``scheduledServerMaintenance`` sends ``Retry-After`` as an ISO 8601 time (not RFC 9110
  delay-seconds or HTTP-date), as documented.
- 502/504 come from a gateway, not the JSON:API app: an HTML page (unconfirmed; the defensive
  reading, so a client never assumes that every error body is JSON).
- OAuth token errors: Doorkeeper's ``{"error", "error_description"}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.emulation.base import ApiError
from connectors.emulation.http import EmuResponse
from connectors.outreach.emulator.jsonapi import RESPONSE_CONTENT_TYPE, error_object

_GATEWAY_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"
_GATEWAY_TITLES = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}
MAINTENANCE_SECONDS = 30
# The framework's own error codes (unknown route, injected faults) in Outreach's vocabulary.
_FRAMEWORK_CODES = {"server_error": "internalServerError", "rate_limited": "rateLimitExceeded"}


def render_outreach_error(error: ApiError, now: datetime) -> EmuResponse:
    if error.extra.get("oauth"):
        body = {"error": error.code, "error_description": error.message}
        return EmuResponse.json(
            error.status, body, error.headers, "application/json; charset=utf-8"
        )
    if error.status in _GATEWAY_TITLES:
        page = _GATEWAY_PAGE.format(_GATEWAY_TITLES[error.status]).encode()
        return EmuResponse(error.status, page, {"content-type": "text/html"})
    headers = dict(error.headers)
    if error.status == 503:
        until = now + timedelta(seconds=MAINTENANCE_SECONDS)
        headers["retry-after"] = f"{until:%Y-%m-%dT%H:%M:%S}"
        detail = (
            "Scheduled server maintenance is under way; "
            f"please try again at {headers['retry-after']}."
        )
        errors = [error_object("scheduledServerMaintenance", detail)]
    else:
        errors = list(error.extra.get("errors") or [_error_object(error)])
    return EmuResponse.json(error.status, {"errors": errors}, headers, RESPONSE_CONTENT_TYPE)


def _error_object(error: ApiError) -> dict[str, object]:
    if error.status == 415:
        found = error_object("unsupportedMediaType", error.message)
        found["details"] = found.pop("detail")
        return found
    if error.code == "not_found":
        code = "methodNotAllowed" if error.status == 405 else "resourceNotFound"
    else:
        code = _FRAMEWORK_CODES.get(error.code, error.code)
    return error_object(code, error.message)
