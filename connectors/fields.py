"""Reading optional fields of a vendor record, strictly: a wrong type is a ``MappingFailure``
(the record is quarantined with the reason), an absent or blank value is "not set"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from syncer.errors import MappingFailure


def optional_text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MappingFailure(f"{key}: expected a string, got {value!r}")
    return value


def optional_time(
    record: Mapping[str, Any], key: str, parse: Callable[[str], datetime]
) -> datetime | None:
    text = optional_text(record, key)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError:
        raise MappingFailure(f"{key}: not a timestamp: {text!r}") from None
