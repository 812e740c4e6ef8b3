"""Amplemarket's wire format: the ``_errors`` envelope, JSON bodies, query parsing, HAL links.

Facts encoded here (vendor doc §1.5, §1.11 and the GET /calls OpenAPI block):
- errors are ``{"_errors": [{"code", "title", "detail", "source"?}], "object": "error"}``;
  the documented query-parameter error (``400 unsupported_value`` "Invalid date format") has no
  ``source``; body errors point at the field with ``source.pointer`` (JSON Pointer);
- list pagination is ``page[size]`` / ``page[after]`` / ``page[before]``, both cursors
  exclusive; ``_links`` hrefs are relative, ``next`` / ``prev`` appear only when more items
  exist, and a link carries the request's filters forward (``/tasks?page[size]=20&user_id=…``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.amplemarket.emulator.ids import normalise_uuid
from connectors.amplemarket.emulator.store import Page
from connectors.emulation import ApiError, EmuRequest, EmuResponse

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# POST bodies: the current docs show application/json, older renderings the vendor media type.
ACCEPTED_BODY_TYPES = ("application/json", "application/vnd.amp+json")

_TITLES = {
    "unsupported_value": "Unsupported Value",
    "not_found": "Not Found",
    "content_too_large": "Content Too Large",
    "internal_server_error": "Internal Server Error",
    # Unconfirmed: the pages read do not show the 401/405/429 bodies; the emulator answers
    # them in the documented envelope with these codes, and connectors must rely on the status.
    "unauthorized": "Unauthorized",
    "method_not_allowed": "Method Not Allowed",
    "rate_limit_exceeded": "Too Many Requests",
}

# Unconfirmed, defensive: 502/503/504 come from the load balancer in front of the API, as an
# HTML page rather than the JSON envelope, so connectors must not assume a JSON error body.
_GATEWAY_PAGE = "<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> EmuResponse:
    return EmuResponse.json(status, payload, headers, content_type=JSON_CONTENT_TYPE)


def error_entry(code: str, detail: str, pointer: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code, "title": _TITLES.get(code, code), "detail": detail}
    if pointer is not None:
        entry["source"] = {"pointer": pointer}
    return entry


def invalid(detail: str, pointer: str | None = None) -> ApiError:
    """The documented validation error: ``400 unsupported_value`` (§1.11, GET /calls 400)."""
    return ApiError(400, "unsupported_value", detail, extra={"pointer": pointer})


def not_found(detail: str, pointer: str | None = None) -> ApiError:
    return ApiError(404, "not_found", detail, extra={"pointer": pointer})


def render_error(error: ApiError) -> EmuResponse:
    """``error`` as Amplemarket sends it (headers the error carries are kept)."""
    if error.status in (502, 503, 504):
        page = _GATEWAY_PAGE.format(status=error.status).encode()
        return EmuResponse(error.status, page, {"content-type": "text/html", **error.headers})
    entries = error.extra.get("errors")
    if entries is None:
        code = _code_for(error)
        entries = [error_entry(code, error.message, error.extra.get("pointer"))]
    return json_response(
        error.status, {"_errors": list(entries), "object": "error"}, dict(error.headers)
    )


def _code_for(error: ApiError) -> str:
    if error.status >= 500:
        return "internal_server_error"
    if error.status == 405:
        return "method_not_allowed"
    return error.code


# --- query parameters ----------------------------------------------------------------------


def page_size(request: EmuRequest, default: int, maximum: int) -> int:
    raw = request.arg("page[size]")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise invalid("Invalid page size")
    # Unconfirmed: the maximum is undocumented (§1.4); asking for more is a 400, as PostHog
    # warns, worded like the documented "Number of emails exceeds 100000 limit".
    if int(raw) > maximum:
        raise invalid(f"Page size exceeds {maximum} limit")
    return int(raw)


def cursors(request: EmuRequest) -> tuple[str | None, str | None]:
    """``(page[after], page[before])`` as canonical ids; a malformed or doubled cursor is a 400."""
    after, before = request.arg("page[after]"), request.arg("page[before]")
    if after is not None and before is not None:
        raise invalid("page[after] and page[before] cannot be combined")
    return _cursor(after), _cursor(before)


def _cursor(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = normalise_uuid(raw)
    if value is None:
        raise invalid("Invalid cursor")
    return value


def instant(request: EmuRequest, name: str) -> datetime | None:
    """An ISO 8601 query parameter as an aware UTC datetime.

    Defensive reading (unconfirmed): a value without a UTC offset is rejected like a malformed
    one, since the vendor could read it in another zone. Note ``+00:00`` sent unencoded
    arrives as `` 00:00`` (form decoding) and fails here, as it would on the real API.
    """
    raw = request.arg(name)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid("Invalid date format") from None
    if parsed.tzinfo is None:
        raise invalid("Invalid date format")
    return parsed.astimezone(UTC)


def uuid_filter(request: EmuRequest, name: str) -> str | None:
    """A UUID filter value; one that is not a UUID matches nothing (returned as-is)."""
    raw = request.arg(name)
    if raw is None:
        return None
    return normalise_uuid(raw) or raw


def boolean_filter(request: EmuRequest, name: str) -> bool | None:
    raw = request.arg(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(f"Invalid value for {name}")
    return raw == "true"


def choice_filter(request: EmuRequest, name: str, allowed: Iterable[str]) -> str | None:
    raw = request.arg(name)
    if raw is not None and raw not in allowed:
        raise invalid(f"Invalid value for {name}")
    return raw


# --- links ---------------------------------------------------------------------------------


def href(path: str, params: Iterable[tuple[str, str]]) -> str:
    """A relative link with literal ``page[...]`` brackets, as in the doc examples.

    Values are percent-encoded (``+`` becomes ``%2B``) so following the link verbatim
    round-trips phone-number and date filters.
    """
    query = "&".join(f"{key}={quote(value, safe=':')}" for key, value in params)
    return f"{path}?{query}" if query else path


def hal_links(
    path: str,
    params: list[tuple[str, str]],
    cursor: tuple[str, str] | None,
    page: Page,
) -> dict[str, dict[str, str]]:
    """``self`` always; ``prev`` / ``next`` only when more items exist that way (§1.5)."""
    links = {"self": {"href": href(path, [*params, *([cursor] if cursor else [])])}}
    if page.has_prev:
        links["prev"] = {"href": href(path, [*params, ("page[before]", page.docs[0]["id"])])}
    if page.has_next:
        links["next"] = {"href": href(path, [*params, ("page[after]", page.docs[-1]["id"])])}
    return links


def request_cursor(after: str | None, before: str | None) -> tuple[str, str] | None:
    if after is not None:
        return ("page[after]", after)
    if before is not None:
        return ("page[before]", before)
    return None
