"""Failures told so a person can act on them, the same for every vendor.

Two gaps the connectors leave: a vendor's error body is JSON in four dialects (the message a
person needs is one field of it), and a connection that timed out or was refused surfaces as a
connector's own "unavailable" error that names neither host nor port. :func:`vendor_message`
picks the message out of the body; :func:`explain` appends the address that did not answer,
found on the network error underneath. Only scheme, host and port are ever shown: a query
string may hold a credential (Pipedrive's ``api_token``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

EXCERPT = 300  # characters of a body that is no JSON the vendors use
# Where the four vendors put their explanation (OAuth 2.0 errors: RFC 6749 §5.2).
_MESSAGE_KEYS = ("error_description", "message", "detail", "title", "error")


def vendor_message(body: str) -> str:
    """The vendor's own explanation in an error body, else the body's start. For refused
    credentials, where the rest of the body is boilerplate."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    found = _message(parsed)
    if found:
        code = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(code, str) and code != found and "error_description" in parsed:
            return f"{code}: {found}"  # the OAuth code says what to fix (invalid_client ...)
        return found
    return excerpt(body)


def excerpt(body: str) -> str:
    """The start of a body, on one line (a validation error's whole JSON says which field)."""
    text = body.strip().replace("\n", " ")
    return text[:EXCERPT] + ("…" if len(text) > EXCERPT else "")


def _message(parsed: Any) -> str | None:
    if isinstance(parsed, dict):
        for key in _MESSAGE_KEYS:
            value = parsed.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            nested = _message(value)
            if nested:
                return nested
        return _first_error(parsed.get("errors"))
    return None


def _first_error(errors: Any) -> str | None:
    """A JSON:API ``errors`` list (Outreach): its ``id`` is the code a person looks up
    (``unauthorizedOauthScope``), its ``detail`` says what to fix; both are kept."""
    if not isinstance(errors, list) or not errors:
        return None
    first = errors[0]
    found = _message(first)
    code = first.get("id") if isinstance(first, dict) else None
    if found and isinstance(code, str) and code not in found:
        return f"{code}: {found}"
    return found


def explain(error: BaseException) -> str:
    """``str(error)``, and the address that did not answer when a network error lies under it
    (raised from it, or raised while handling it)."""
    text = str(error) or type(error).__name__
    where = unanswered(error)
    if where is not None and where not in text:
        text += f" (no answer from {where})"
    return text


def unanswered(error: BaseException) -> str | None:
    """``scheme://host:port`` of the first network error in ``error``'s chain."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TransportError):
            return _origin(current)
        current = current.__cause__ or current.__context__
    return None


def _origin(error: httpx.TransportError) -> str | None:
    try:
        url = error.request.url
    except RuntimeError:  # raised without a request (a transport used on its own)
        return None
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"
