"""Users (``/v1/users/me``, ``/v1/users/find``, ``/v1/users``, ``/v1/users/{id}``) and persons
(``/api/v2/persons/search``, ``/v1/persons/search``, ``/api/v2/persons/{id}``).

Search semantics (Pipedrive documents only "term >= 2 characters, or 1 with exact_match;
exact_match is not case sensitive"; the rest is UNCONFIRMED and chosen strictly):
- ``exact_match``: the whole stored value equals the term, ignoring case only; a phone written
  ``(415) 555-2000`` is NOT found by ``+14155552000``.
- otherwise: name and email match as case-insensitive substrings; phones match when the term's
  digits appear inside the stored number's digits (formatting ignored, but a country code in
  the term that the stored number lacks makes it miss).
Results are ordered by ``result_score`` (1.0 for a whole-value match) and then id.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from connectors.emulation import EmuRequest, EmuResponse
from connectors.pipedrive.emulator.records import COMPANY_ID, COMPANY_NAME, public
from connectors.pipedrive.emulator.store import PipedriveStore
from connectors.pipedrive.emulator.wire import (
    bad_request,
    decode_cursor,
    encode_cursor,
    int_arg,
    not_found,
    ok,
    v2_limit,
)

SEARCH_FIELDS = frozenset({"custom_fields", "email", "notes", "phone", "name"})
_NON_DIGITS = re.compile(r"\D")


def digits(text: str) -> str:
    return _NON_DIGITS.sub("", text)


def render_user(user: dict[str, Any], caller_id: int) -> dict[str, Any]:
    """A BaseUser as the v1 spec shows it."""
    admin = bool(user["is_admin"])
    access = [{"app": "sales", "admin": admin}, {"app": "global", "admin": admin}]
    if admin:
        access.append({"app": "account_settings", "admin": True})
    return {
        "id": user["id"],
        "name": user["name"],
        "default_currency": "USD",
        "locale": "en_US",
        "lang": 1,
        "email": user["email"],
        "phone": user["phone"],
        "activated": True,
        "last_login": user["created"],
        "created": user["created"],
        "modified": None,
        "has_created_company": admin,
        "access": access,
        "active_flag": True,
        "timezone_name": "America/Los_Angeles",
        "timezone_offset": "-08:00",
        "role_id": 1,
        "icon_url": None,
        "is_you": user["id"] == caller_id,
        "is_deleted": False,
    }


class UserRoutes:
    def __init__(self, store: PipedriveStore, company_domain: str) -> None:
        self.store = store
        self.company_domain = company_domain

    def me(self, user: dict[str, Any], _: EmuRequest, __: dict[str, str]) -> EmuResponse:
        data = render_user(user, user["id"])
        data.update(
            {
                "company_id": COMPANY_ID,
                "company_name": COMPANY_NAME,
                "company_domain": self.company_domain,
                "company_country": "US",
                "company_industry": None,
                "language": {"language_code": "en", "country_code": "US"},
            }
        )
        return ok(data)

    def find(self, user: dict[str, Any], request: EmuRequest, _: dict[str, str]) -> EmuResponse:
        term = (request.arg("term") or "").strip().lower()
        if not term:
            raise bad_request('"term" is required.')
        by_email = request.arg("search_by_email") or "0"
        if by_email not in ("0", "1"):
            raise bad_request('"search_by_email" must be one of [0, 1]')
        field = "email" if by_email == "1" else "name"
        found = [u for u in self.store.all_users() if term in str(u[field]).lower()]
        # v1 answers ``data: null`` (not ``[]``) when nothing matched.
        return ok([render_user(u, user["id"]) for u in found] or None)

    def all(self, user: dict[str, Any], _: EmuRequest, __: dict[str, str]) -> EmuResponse:
        return ok([render_user(u, user["id"]) for u in self.store.all_users()])

    def get(self, user: dict[str, Any], _: EmuRequest, params: dict[str, str]) -> EmuResponse:
        try:
            found = self.store.user(int(params["id"]))
        except ValueError:
            raise bad_request('"id" must be a number') from None
        if found is None:
            raise not_found("User not found")
        return ok(render_user(found, user["id"]))


@dataclass(frozen=True)
class _Entry:
    doc: dict[str, Any]
    name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    phone_digits: tuple[str, ...]


@dataclass(frozen=True)
class SearchQuery:
    term: str
    fields: frozenset[str]
    exact: bool
    org_id: int | None

    @cached_property
    def term_digits(self) -> str:
        return digits(self.term)

    @classmethod
    def from_request(cls, request: EmuRequest) -> SearchQuery:
        term = (request.arg("term") or "").strip()
        exact = (request.arg("exact_match") or "").lower() in ("true", "1")
        if len(term) < (1 if exact else 2):
            raise bad_request("Search term must be at least 2 characters long (1 with exact_match)")
        raw_fields = request.arg("fields")
        fields = frozenset(raw_fields.split(",")) if raw_fields else SEARCH_FIELDS
        if not fields <= SEARCH_FIELDS:
            unknown = ", ".join(sorted(fields - SEARCH_FIELDS))
            raise bad_request(f"Validation failed: fields: unknown field(s) {unknown}")
        org_id = request.arg("organization_id")
        try:
            org = int(org_id) if org_id else None
        except ValueError:
            raise bad_request('"organization_id" must be a number') from None
        return cls(term.lower(), fields, exact, org)


class PersonSearch:
    """An in-memory search index derived from StateDB, rebuilt when persons change."""

    def __init__(self, store: PipedriveStore) -> None:
        self.store = store
        self._version = -1
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()

    def search(self, query: SearchQuery) -> list[tuple[float, dict[str, Any]]]:
        hits: list[tuple[float, dict[str, Any]]] = []
        for entry in self._current():
            if query.org_id is not None and entry.doc["org_id"] != query.org_id:
                continue
            score = self._score(entry, query)
            if score is not None:
                hits.append((score, entry.doc))
        hits.sort(key=lambda hit: (-hit[0], hit[1]["id"]))
        return hits

    def _current(self) -> list[_Entry]:
        with self._lock:
            if self._version != self.store.persons_version:
                self._version = self.store.persons_version
                self._entries = [self._entry(stored.doc) for stored in self.store.persons.scan()]
            return self._entries

    @staticmethod
    def _entry(doc: dict[str, Any]) -> _Entry:
        phones = tuple(str(phone["value"]).lower() for phone in doc["phones"])
        return _Entry(
            doc=doc,
            name=str(doc["name"]).lower(),
            emails=tuple(str(email["value"]).lower() for email in doc["emails"]),
            phones=phones,
            phone_digits=tuple(digits(phone) for phone in phones),
        )

    @staticmethod
    def _score(entry: _Entry, query: SearchQuery) -> float | None:
        """The best score over the searched fields, or None when nothing matches."""
        values: list[str] = []
        if "name" in query.fields:
            values.append(entry.name)
        if "email" in query.fields:
            values.extend(entry.emails)
        scores = [score_match(value, query.term, query.exact) for value in values]
        if "phone" in query.fields:
            if query.exact:
                scores.extend(score_match(phone, query.term, True) for phone in entry.phones)
            elif query.term_digits:
                scores.extend(
                    score_match(number, query.term_digits, False) for number in entry.phone_digits
                )
        found = [score for score in scores if score is not None]
        return max(found) if found else None


def score_match(value: str, term: str, exact: bool) -> float | None:
    """1.0 for the whole value; a partial match scores the share of the value it covers."""
    if exact:
        return 1.0 if value == term else None
    if value and term in value:
        return round(len(term) / len(value), 4)
    return None


class PersonRoutes:
    def __init__(self, store: PipedriveStore) -> None:
        self.store = store
        self.index = PersonSearch(store)

    def search_v2(self, _: dict[str, Any], request: EmuRequest, __: dict[str, str]) -> EmuResponse:
        limit = v2_limit(request, 500)
        hits = self.index.search(SearchQuery.from_request(request))
        cursor = request.arg("cursor")
        offset = 0
        if cursor:
            raw_offset = decode_cursor(cursor).get("offset")
            if not isinstance(raw_offset, int) or raw_offset < 0:
                raise bad_request("Invalid cursor")
            offset = raw_offset
        page = hits[offset : offset + limit]
        more = offset + limit < len(hits)
        next_cursor = encode_cursor({"offset": offset + limit}) if more else None
        items = [self._item(score, doc) for score, doc in page]
        return ok({"items": items}, {"next_cursor": next_cursor})

    def search_v1(self, _: dict[str, Any], request: EmuRequest, __: dict[str, str]) -> EmuResponse:
        start = int_arg(request, "start", 0)
        limit = min(int_arg(request, "limit", 100), 500)
        if start < 0 or limit < 1:
            raise bad_request('"start" must be >= 0 and "limit" >= 1')
        hits = self.index.search(SearchQuery.from_request(request))
        page = hits[start : start + limit]
        more = start + limit < len(hits)
        pagination: dict[str, Any] = {
            "start": start,
            "limit": limit,
            "more_items_in_collection": more,
        }
        if more:
            pagination["next_start"] = start + limit
        items = [self._item(score, doc) for score, doc in page]
        return ok({"items": items}, {"pagination": pagination})

    def get(self, _: dict[str, Any], __: EmuRequest, params: dict[str, str]) -> EmuResponse:
        try:
            doc = self.store.persons.get(int(params["id"]))
        except ValueError:
            raise bad_request("Validation failed: id: Expected number") from None
        if doc is None:
            raise not_found("Person not found")
        return ok(public(doc))

    def _item(self, score: float, doc: dict[str, Any]) -> dict[str, Any]:
        org = self.store.orgs.get(doc["org_id"]) if doc["org_id"] is not None else None
        return {
            "result_score": score,
            "item": {
                "id": doc["id"],
                "type": "person",
                "name": doc["name"],
                "phones": [phone["value"] for phone in doc["phones"]],
                "emails": [email["value"] for email in doc["emails"]],
                "visible_to": doc["visible_to"],
                "owner": {"id": doc["owner_id"]},
                "organization": (
                    None if org is None else {"id": org["id"], "name": org["name"], "address": None}
                ),
                "custom_fields": [],
                "notes": [],
            },
        }
