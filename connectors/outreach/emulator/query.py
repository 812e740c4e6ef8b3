"""The parameters of an Outreach list request: ``page[...]``, ``sort``, ``filter[...]``,
``include``, ``fields[...]`` and ``count`` (doc §2.3), parsed and validated.

Strictness (each a deliberate reading of an unconfirmed fact, so callsync cannot come to
depend on kindness the real API may not have):
- bracket operators (``filter[updatedAt][gte]``) without ``newFilterSyntax=true`` are rejected;
- ``[gt]``/``[lt]`` are rejected (only ``[gte]``/``[lte]`` are confirmed);
- ``page[size]`` above the documented maximum (1000) is rejected, not clamped;
- a filter the emulator does not index is rejected rather than silently ignored;
- offset pagination (deprecated) and ``page[before]`` are not emulated and are rejected.
All rejections are 422 ``validationError`` with ``source.parameter``: the published spec
declares 422 as the only error of list operations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.emulation.base import ApiError
from connectors.emulation.http import EmuRequest
from connectors.outreach.emulator.jsonapi import Cursor, error_object, filter_bound

_FILTER = re.compile(r"^filter((?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_FIELDS = re.compile(r"^fields\[([^\[\]]+)\]$")
_NOT_EMULATED_PAGING = {
    "page[offset]": "Offset pagination is deprecated (capped at 10,000); use page[after].",
    "page[limit]": "Offset pagination is deprecated (capped at 10,000); use page[size].",
    "page[before]": "Backward cursor pagination is not emulated; follow links.next.",
}


def invalid_parameter(parameter: str, detail: str) -> ApiError:
    error = error_object("validationError", detail, parameter=parameter)
    return ApiError(422, "validationError", detail, extra={"errors": [error]})


@dataclass(frozen=True)
class QueryRules:
    """What one resource's list endpoint accepts."""

    controller: str  # names the cursor's owner, as the real cursor's "cn" does
    sortable: frozenset[str]
    range_filters: frozenset[str] = frozenset()  # timestamps: legacy a..b and [gte]/[lte]
    id_filters: frozenset[str] = frozenset({"id"})  # "id" and relationships (filter[x][id])
    value_filters: frozenset[str] = frozenset()  # exact match, comma lists or [] arrays
    includes: frozenset[str] = frozenset()
    default_size: int = 50
    max_size: int = 1000


@dataclass(frozen=True)
class Range:
    """Inclusive bounds in the stored timestamp format; None is unbounded."""

    low: str | None = None
    high: str | None = None

    def narrowed(self, low: str | None, high: str | None) -> Range:
        return Range(
            low if self.low is None or (low is not None and low > self.low) else self.low,
            high if self.high is None or (high is not None and high < self.high) else self.high,
        )

    def holds(self, value: str | None) -> bool:
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class ListQuery:
    sort_field: str
    descending: bool
    size: int
    after: Cursor | None
    ranges: Mapping[str, Range]
    ids: Mapping[str, frozenset[int]]  # "id" or a relationship name -> accepted ids
    values: Mapping[str, tuple[str, ...]]
    count: bool
    includes: tuple[str, ...]
    fields: Mapping[str, frozenset[str]]
    link_params: tuple[tuple[str, str], ...]  # every parameter but page[after], sorted

    @property
    def sort_param(self) -> str:
        return f"-{self.sort_field}" if self.descending else self.sort_field

    @property
    def filtered(self) -> bool:
        return bool(self.ranges or self.ids or self.values)


@dataclass
class _Filters:
    rules: QueryRules
    new_syntax: bool
    ranges: dict[str, Range] = field(default_factory=dict)
    ids: dict[str, frozenset[int]] = field(default_factory=dict)
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, key: str, segments: list[str], value: str) -> None:
        name, rest = segments[0], segments[1:]
        if not rest:
            self._legacy(key, name, value)
        elif rest == ["id"] and name != "id" and name in self.rules.id_filters:
            self._ids(key, name, value.split(","))
        elif rest == [""]:
            self._require_new_syntax(key)
            self._array_item(key, name, value)
        elif rest in (["gte"], ["lte"]) and name in self.rules.range_filters:
            self._require_new_syntax(key)
            bound = self._bound(key, value)
            low, high = (bound, None) if rest == ["gte"] else (None, bound)
            self.ranges[name] = self.ranges.get(name, Range()).narrowed(low, high)
        elif rest in (["gt"], ["lt"]):
            raise invalid_parameter(key, "Only [gte] and [lte] operators are supported.")
        else:
            raise invalid_parameter(key, f"Filtering by {key!r} is not supported.")

    def _require_new_syntax(self, key: str) -> None:
        # Bracket operators and arrays only work with newFilterSyntax=true (doc §2.13 #4).
        if not self.new_syntax:
            raise invalid_parameter(key, "This filter syntax requires newFilterSyntax=true.")

    def _legacy(self, key: str, name: str, value: str) -> None:
        if name in self.rules.range_filters:
            self.ranges[name] = self.ranges.get(name, Range()).narrowed(*self._span(key, value))
        elif name == "id" and name in self.rules.id_filters:
            self._ids(key, name, value.split(","))
        elif name in self.rules.value_filters:
            self.values[name] = self.values.get(name, ()) + tuple(value.split(","))
        elif name in self.rules.id_filters:
            # Relationship attribute filters were removed in May 2023: only [<rel>][id] works.
            raise invalid_parameter(key, f"Filter relationships by id: filter[{name}][id]=X.")
        else:
            raise invalid_parameter(key, f"Filtering by {name!r} is not supported.")

    def _array_item(self, key: str, name: str, value: str) -> None:
        if name == "id" and name in self.rules.id_filters:
            self._ids(key, name, [value])
        elif name in self.rules.value_filters:
            self.values[name] = (*self.values.get(name, ()), value)
        else:
            raise invalid_parameter(key, f"Filtering by {name!r} is not supported.")

    def _span(self, key: str, value: str) -> tuple[str | None, str | None]:
        """Legacy ``a..b`` (``neginf``/``inf`` open ends) or one exact timestamp."""
        if "," in value or value.count("..") > 1:
            raise invalid_parameter(key, "Range values cannot contain ',' or '..'.")
        if ".." not in value:
            exact = self._bound(key, value)
            return exact, exact
        low, high = value.split("..")
        return (
            None if low in ("", "neginf") else self._bound(key, low),
            None if high in ("", "inf") else self._bound(key, high),
        )

    def _ids(self, key: str, name: str, texts: list[str]) -> None:
        try:
            found = frozenset(int(text) for text in texts)
        except ValueError:
            raise invalid_parameter(key, "Ids must be integers.") from None
        self.ids[name] = self.ids.get(name, frozenset()) | found

    @staticmethod
    def _bound(key: str, text: str) -> str:
        try:
            return filter_bound(text)
        except ValueError:
            raise invalid_parameter(key, f"{text!r} is not an ISO 8601 timestamp.") from None


def parse_list_query(request: EmuRequest, rules: QueryRules) -> ListQuery:
    """Validate a list request's parameters; raises a 422 ``ApiError`` for a bad one."""
    filters = _Filters(rules, request.arg("newFilterSyntax") == "true")
    fields: dict[str, frozenset[str]] = {}
    for key, value in request.query:
        if key in _NOT_EMULATED_PAGING:
            raise invalid_parameter(key, _NOT_EMULATED_PAGING[key])
        if key.startswith("filter"):
            match = _FILTER.match(key)
            if match is None:
                raise invalid_parameter(key, "Malformed filter parameter.")
            filters.add(key, _SEGMENT.findall(match.group(1)), value)
        elif (fieldset := _FIELDS.match(key)) is not None:
            fields[fieldset.group(1)] = frozenset(value.split(","))
    sort_field, descending = _sort(request.arg("sort"), rules)
    sort_param = f"-{sort_field}" if descending else sort_field
    return ListQuery(
        sort_field=sort_field,
        descending=descending,
        size=_size(request.arg("page[size]"), rules),
        after=_after(request.arg("page[after]"), rules, sort_param),
        ranges=filters.ranges,
        ids=filters.ids,
        values=filters.values,
        count=request.arg("count") == "true",
        includes=_includes(request.arg("include"), rules),
        fields=fields,
        link_params=tuple(
            sorted(((k, v) for k, v in request.query if k != "page[after]"), key=lambda kv: kv[0])
        ),
    )


def _sort(text: str | None, rules: QueryRules) -> tuple[str, bool]:
    if text is None or text == "":
        return "id", False
    if "," in text:
        raise invalid_parameter("sort", "Sorting by several attributes is not emulated.")
    name = text.removeprefix("-")
    if name not in rules.sortable:
        raise invalid_parameter("sort", f"{name!r} is not a sortable attribute.")
    return name, text.startswith("-")


def _size(text: str | None, rules: QueryRules) -> int:
    if text is None:
        return rules.default_size
    if not text.isdigit() or not 1 <= int(text) <= rules.max_size:
        raise invalid_parameter(
            "page[size]", f"page[size] must be an integer from 1 to {rules.max_size}."
        )
    return int(text)


def _after(text: str | None, rules: QueryRules, sort_param: str) -> Cursor | None:
    if text is None:
        return None
    try:
        cursor = Cursor.decode(text)
    except ValueError:
        raise invalid_parameter("page[after]", "Invalid page cursor.") from None
    if cursor.controller != rules.controller or cursor.sort != sort_param:
        raise invalid_parameter("page[after]", "The page cursor belongs to another query.")
    return cursor


def _includes(text: str | None, rules: QueryRules) -> tuple[str, ...]:
    if not text:
        return ()
    names = tuple(text.split(","))
    for name in names:
        if name not in rules.includes:
            raise invalid_parameter("include", f"Cannot include {name!r}.")
    return names
