"""The supported subset of Close's look-ups by phone and e-mail (see ``_people.py``).

``SearchEvaluator`` reduces an Advanced Filtering query tree to a set of ids through the phone /
e-mail index, so a look-up costs the matches, never a scan of the organisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._state import CloseState
from ._support import bad_request, normalize_phone

_QUERY_TERM = re.compile(r'(\w+):("([^"]*)"|(\S+))|(\S+)')


class SearchEvaluator:
    """Evaluates the supported subset of an Advanced Filtering query to a set of ids.

    ``None`` stands for "every object of the kind" (the identity of ``and``).
    """

    def __init__(self, state: CloseState) -> None:
        self.state = state

    def evaluate(self, node: Any, kind: str) -> set[str] | None:
        if not isinstance(node, dict):
            raise bad_request("Every query node must be a JSON object.")
        if node.get("negate"):
            raise bad_request("Emulator: negated queries are not supported.")
        handler: Callable[[dict[str, Any], str], set[str] | None] | None = {
            "and": self._and,
            "or": self._or,
            "object_type": self._object_type,
            "has_related": self._has_related,
            "field_condition": self._field_condition,
        }.get(str(node.get("type")))
        if handler is None:
            raise bad_request(f"Emulator: unsupported query type {node.get('type')!r}.")
        return handler(node, kind)

    def _and(self, node: dict[str, Any], kind: str) -> set[str] | None:
        result: set[str] | None = None
        for child in node.get("queries") or []:
            found = self.evaluate(child, kind)
            if found is not None:
                result = found if result is None else result & found
        return result

    def _or(self, node: dict[str, Any], kind: str) -> set[str] | None:
        result: set[str] = set()
        for child in node.get("queries") or []:
            found = self.evaluate(child, kind)
            if found is None:
                return None
            result |= found
        return result

    @staticmethod
    def _object_type(node: dict[str, Any], kind: str) -> set[str] | None:
        if node.get("object_type") != kind:
            return set()
        return None

    def _has_related(self, node: dict[str, Any], kind: str) -> set[str] | None:
        this, related = node.get("this_object_type"), node.get("related_object_type")
        inner = node.get("related_query") or {}
        if this != kind:
            raise bad_request(f"Emulator: has_related from {this!r} inside a {kind!r} query.")
        if kind == "lead" and related == "contact":
            contacts = self.evaluate(inner, "contact")
            if contacts is None:
                return None
            return {c["lead_id"] for i in contacts if (c := self.state.contact(i))}
        if kind == "contact" and related in ("contact_phone", "contact_email"):
            return self.evaluate(inner, related)
        raise bad_request(f"Emulator: unsupported relation {this!r} -> {related!r}.")

    def _field_condition(self, node: dict[str, Any], kind: str) -> set[str] | None:
        field, condition = node.get("field") or {}, node.get("condition") or {}
        target = (field.get("object_type"), field.get("field_name"))
        if (
            target not in (("contact_phone", "phone"), ("contact_email", "email"))
            or kind != target[0]
        ):
            raise bad_request(f"Emulator: unsupported field {target!r} in a {kind!r} query.")
        if condition.get("type") != "text" or condition.get("mode") not in (
            "exact_value",
            "full_words",
            "phrase",
        ):
            raise bad_request("Emulator: only text conditions are supported.")
        term = _term(target[1], str(condition.get("value") or ""))
        if term is None:
            return set()
        return {contact["id"] for contact in self.state.contacts_with_term(term)}


def object_type_of(query: dict[str, Any]) -> str:
    """The kind of object searched: the one ``object_type`` node at the top of the query."""
    children = query.get("queries") if query.get("type") == "and" else None
    nodes = [query, *(children if isinstance(children, list) else [])]
    kinds = [
        node.get("object_type")
        for node in nodes
        if isinstance(node, dict) and node.get("type") == "object_type"
    ]
    if len(kinds) != 1 or kinds[0] not in ("lead", "contact"):
        raise bad_request("The query must contain exactly one object_type query (lead or contact).")
    return str(kinds[0])


def _term(field: str, value: str) -> str | None:
    if field == "phone":
        phone = normalize_phone(value)
        return None if phone is None else f"phone:{phone}"
    return f"email:{value.strip().lower()}" if value.strip() else None


def legacy_terms(query: str) -> list[str]:
    terms = []
    for match in _QUERY_TERM.finditer(query):
        keyword, value = match.group(1), match.group(3) or match.group(4)
        if keyword is None or value is None:
            raise bad_request(
                f"Emulator: free-text lead search is not supported ({match.group(0)!r});"
                " use phone:, email: or the Advanced Filtering API."
            )
        if keyword == "phone":
            term = _term("phone", value)
        elif keyword in ("email", "email_address"):
            term = _term("email", value)
        else:
            raise bad_request(f"Emulator: unsupported search keyword {keyword!r}.")
        terms.append(term or "phone:unparseable")
    return terms
