"""Writing calls: ``POST /calls`` validation exactly as documented (doc §2.4, §2.5, §2.9).

Body ``{"data": {"type": "call", "attributes": {...}, "relationships": {...}}}``. Rejected with
422 ``validationError`` and a ``source.pointer`` per problem (all problems at once, as Rails
reports them): an ``id``; a wrong ``type``; read-only or unknown attributes; values outside
the documented enums; ``recordingUrl`` over 255 characters or not http(s); ``vendorCallId``
over 63; over-long strings; malformed timestamps; read-only or unknown relationships; ids
that are not integers or name no existing record; a missing required relationship.

Which relationships are required is undocumented; the default (prospect and user) is the
defensive reading of "a call made with a prospect" and is a constructor tunable.
There is no PATCH (calls cannot be updated through the API); DELETE answers 204.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from connectors.emulation.base import ApiError
from connectors.outreach.emulator.jsonapi import error_object, iso, parse_timestamp
from connectors.outreach.emulator.listing import Doc
from connectors.outreach.emulator.store import CALL_ATTRIBUTES, CALL_RELATIONSHIPS

READ_ONLY_ATTRIBUTES = frozenset(
    {"createdAt", "updatedAt", "state", "stateChangedAt", "uid", "voicemailRecordingUrl"}
)
WRITABLE_ATTRIBUTES = frozenset(CALL_ATTRIBUTES) - READ_ONLY_ATTRIBUTES
READ_ONLY_RELATIONSHIPS = frozenset({"associatedId", "batches", "kaiaCrmRecording"})
TIMESTAMP_ATTRIBUTES = frozenset({"answeredAt", "completedAt", "dialedAt", "returnedAt"})
ENUMS = {
    "direction": ("inbound", "outbound"),
    "outcome": ("Answered", "Not Answered"),
    "sequenceAction": ("Advance", "Finish", "Finish - No Reply", "Finish - Replied"),
    "userCallType": ("bridge", "voip"),
}
MAX_LENGTH = {
    "direction": 255, "externalVendor": 255, "from": 255, "note": 65535, "outcome": 255,
    "recordingUrl": 255, "sequenceAction": 255, "to": 255, "userCallType": 255,
    "vendorCallId": 63,
}  # fmt: skip

# (relationship name, id) -> does the record exist? Types the emulator does not keep
# (sequence, task, opportunity...) are accepted without a check.
Exists = Callable[[str, int], bool]


def parse_new_call(body: bytes, exists: Exists, required: Sequence[str]) -> tuple[Doc, Doc]:
    """The attributes and relationships of a valid create request; 422 otherwise."""
    data = _data(body)
    errors: list[Doc] = []
    if "id" in data:
        errors.append(_problem("/data/id", "A new call cannot be given an id."))
    if data.get("type") != "call":
        errors.append(_problem("/data/type", "Type must be 'call'."))
    attributes = _members(data, "attributes", errors)
    relationships = _members(data, "relationships", errors)
    parsed_attributes = _attributes(attributes, errors)
    parsed_relationships = _relationships(relationships, exists, required, errors)
    if errors:
        raise ApiError(422, "validationError", errors[0]["detail"], extra={"errors": errors})
    return parsed_attributes, parsed_relationships


def _problem(pointer: str, detail: str) -> Doc:
    return error_object("validationError", detail, pointer=pointer)


def _reject(pointer: str, detail: str) -> ApiError:
    return ApiError(422, "validationError", detail, extra={"errors": [_problem(pointer, detail)]})


def _data(body: bytes) -> Doc:
    try:
        document = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _reject("", "The request body is not valid JSON.") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise _reject("/data", "The request body must have a 'data' resource object.")
    return data


def _members(data: Doc, name: str, errors: list[Doc]) -> Doc:
    members = data.get(name, {})
    if isinstance(members, dict):
        return members
    errors.append(_problem(f"/data/{name}", f"'{name}' must be an object."))
    return {}


def _attributes(given: Doc, errors: list[Doc]) -> Doc:
    parsed: Doc = dict.fromkeys(CALL_ATTRIBUTES)
    for name, value in given.items():
        pointer = f"/data/attributes/{name}"
        if name in READ_ONLY_ATTRIBUTES:
            errors.append(_problem(pointer, f"'{name}' is read-only."))
        elif name not in WRITABLE_ATTRIBUTES:
            errors.append(_problem(pointer, f"'{name}' is not an attribute of call."))
        else:
            problem, clean = _attribute(name, value)
            if problem is not None:
                errors.append(_problem(pointer, problem))
            parsed[name] = clean
    return parsed


def _attribute(name: str, value: Any) -> tuple[str | None, Any]:
    """(problem, stored value) for one writable attribute; every attribute is nullable."""
    if value is None:
        return None, None
    if name in TIMESTAMP_ATTRIBUTES:
        return _timestamp(name, value)
    if name == "shouldRecordCall":
        return (None, value) if isinstance(value, bool) else ("Must be a boolean.", None)
    if name == "tags":
        valid = isinstance(value, list) and all(isinstance(tag, str) for tag in value)
        return (None, value) if valid else ("Must be an array of strings.", None)
    if not isinstance(value, str):
        return "Must be a string.", None
    if name in ENUMS and value not in ENUMS[name]:
        allowed = ", ".join(f'"{option}"' for option in ENUMS[name])
        return f"'{name}' must be one of {allowed}.", None
    if len(value) > MAX_LENGTH[name]:
        return f"'{name}' is too long (maximum is {MAX_LENGTH[name]} characters).", None
    if name == "recordingUrl" and not _is_http_url(value):
        return "'recordingUrl' only accepts HTTP and HTTPS values.", None
    return None, value


def _timestamp(name: str, value: Any) -> tuple[str | None, Any]:
    """Stored at second precision, like every Outreach timestamp."""
    if isinstance(value, str):
        try:
            return None, iso(parse_timestamp(value))
        except ValueError:
            pass
    return f"'{name}' must be an ISO 8601 date-time.", None


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _relationships(given: Doc, exists: Exists, required: Sequence[str], errors: list[Doc]) -> Doc:
    parsed: Doc = dict.fromkeys(CALL_RELATIONSHIPS)
    for name, value in given.items():
        pointer = f"/data/relationships/{name}"
        if name in READ_ONLY_RELATIONSHIPS:
            errors.append(_problem(pointer, f"Relationship '{name}' is read-only."))
        elif name not in CALL_RELATIONSHIPS:
            errors.append(_problem(pointer, f"'{name}' is not a relationship of call."))
        else:
            problem, ident = _linkage(name, value, exists)
            if problem is not None:
                errors.append(_problem(pointer, problem))
            parsed[name] = ident
    reported = {error["source"]["pointer"] for error in errors}
    for name in required:
        pointer = f"/data/relationships/{name}"
        if parsed.get(name) is None and name in CALL_RELATIONSHIPS and pointer not in reported:
            errors.append(_problem(pointer, f"'{name}' can't be blank."))
    return parsed


def _linkage(name: str, value: Any, exists: Exists) -> tuple[str | None, int | None]:
    kind = CALL_RELATIONSHIPS[name]
    if not isinstance(value, dict) or "data" not in value:
        return f"Relationship '{name}' must be an object with 'data'.", None
    data = value["data"]
    if data is None:
        return None, None
    if not isinstance(data, dict) or data.get("type") != kind:
        return f"Relationship '{name}' must point to a resource of type '{kind}'.", None
    ident = data.get("id")
    # Outreach ids are integers (doc §2.3); a string id is a client bug worth surfacing.
    if not isinstance(ident, int) or isinstance(ident, bool):
        return f"The id of '{name}' must be an integer.", None
    if not exists(name, ident):
        return f"Could not find '{kind}' with ID '{ident}'.", None
    return None, ident
