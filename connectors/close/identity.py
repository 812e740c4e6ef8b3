"""Who a call hangs on in Close: the user (by e-mail) and the lead + contact (by phone, e-mail).

Look-ups (close-pipedrive.md §1.6 "calls belong to a lead"; emulator ``_people.py``):
- users: ``GET /user/`` (one page for most organisations), matched by e-mail, case-insensitive;
- contacts: Advanced Filtering ``POST /data/search/`` on ``contact_phone.phone`` (E.164, how
  Close stores phones) or ``contact_email.email``, asking only for ``id``, ``lead_id`` and
  ``emails``: one request per number or address, however large the organisation.

Results are cached in ``context.identities`` (callsync's database): kinds ``user`` (key: the
lower-cased e-mail -> ``{"id"}``), ``phone`` (E.164) and ``email`` (lower-cased) ->
``{"people": [{"contact_id", "lead_id", "emails"}]}``, every kind ``{"missing": True, "at"}``
for a miss. A miss is trusted for ``identity_miss_seconds`` of the connection's clock only, so
a parked call resolves once the person is added. The *candidates* are cached, not the choice,
so every call is decided on its own facts (its contact's e-mail and known Close ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from connectors.base import IdentityCache, JsonDict
from connectors.close.client import LEADS, CloseApi
from connectors.close.times import parse_time
from syncer.errors import AmbiguousWriteError, TransientError

log = structlog.get_logger("callsync.close")

SEARCH_PAGE = 100
SEARCH_PAGES = 5  # at most 500 contacts are read for one number or address (logged if more)


@dataclass(frozen=True)
class Person:
    """A Close contact a call can be logged against, with the lead it belongs to."""

    contact_id: str
    lead_id: str
    emails: tuple[str, ...] = ()

    def as_json(self) -> JsonDict:
        return {"contact_id": self.contact_id, "lead_id": self.lead_id, "emails": self.emails}

    @classmethod
    def from_json(cls, data: JsonDict) -> Person:
        return cls(str(data["contact_id"]), str(data["lead_id"]), tuple(data.get("emails") or ()))


class MemoryCache:
    """The cache of a connector built without callsync's database (tests, one-off scripts)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], JsonDict] = {}

    def get(self, kind: str, key: str) -> JsonDict | None:
        return self._values.get((kind, key))

    def put(self, kind: str, key: str, value: JsonDict) -> None:
        self._values[(kind, key)] = value


class Directory:
    """Cached look-ups of users and people in one Close organisation."""

    def __init__(
        self,
        api: CloseApi,
        cache: IdentityCache | None,
        clock: Callable[[], datetime],
        miss_seconds: int,
    ) -> None:
        self._api = api
        self._cache = cache if cache is not None else MemoryCache()
        self._clock = clock
        self._miss_ttl = timedelta(seconds=miss_seconds)
        self._users: dict[str, str] | None = None

    # --- users ----------------------------------------------------------------------------

    def user_id(self, email: str) -> str | None:
        key = email.strip().casefold()
        cached = self._cached("user", key)
        if cached is not None:
            return None if cached.get("missing") else str(cached["id"])
        if self._users is None:
            self._users = {
                str(user.get("email") or "").casefold(): str(user["id"])
                for user in self._api.users()
                if user.get("id") and user.get("email")
            }
        found = self._users.get(key)
        self._store("user", key, None if found is None else {"id": found})
        return found

    # --- people ---------------------------------------------------------------------------

    def by_phone(self, e164: str) -> list[Person]:
        return self._people("phone", e164, ("contact_phone", "phone"))

    def by_email(self, email: str) -> list[Person]:
        return self._people("email", email.strip().casefold(), ("contact_email", "email"))

    def _people(self, kind: str, key: str, field: tuple[str, str]) -> list[Person]:
        cached = self._cached(kind, key)
        if cached is not None:
            return [Person.from_json(item) for item in cached.get("people") or ()]
        people = self._search(field, key)
        self._store(kind, key, {"people": [p.as_json() for p in people]} if people else None)
        return people

    def _search(self, field: tuple[str, str], value: str) -> list[Person]:
        query = contact_query(field, value)
        people: list[Person] = []
        for _ in range(SEARCH_PAGES):
            records, cursor = self._api.search(query)
            people.extend(person for record in records if (person := _person(record)))
            if cursor is None:
                return people
            query = {**query, "cursor": cursor}
        log.warning("close.lookup_truncated", field=field[0], kept=len(people))
        return people

    def create(self, name: str, phone: str | None, email: str | None) -> Person:
        """A new lead holding one contact (``create_missing_contacts``), cached at once."""
        contact: JsonDict = {"name": name}
        if phone:
            contact["phones"] = [{"phone": phone, "type": "office"}]
        if email:
            contact["emails"] = [{"email": email, "type": "office"}]
        try:
            lead = self._api.write("POST", LEADS, {"name": name, "contacts": [contact]})
        except AmbiguousWriteError as error:
            # Not the call's own create: the next attempt finds the lead by phone or e-mail
            # (misses are not cached past this point), so no duplicate lead is made blindly.
            self._forget(phone, email)
            raise TransientError(f"close: creating a lead for {phone or email}: {error}") from None
        contacts = lead.get("contacts")
        first = contacts[0] if isinstance(contacts, list) and contacts else None
        person = _person({**first, "lead_id": lead.get("id")}) if isinstance(first, dict) else None
        if person is None:
            raise TransientError("close: the new lead came back without its contact")
        log.info("close.lead_created", lead_id=person.lead_id, contact_id=person.contact_id)
        if phone:
            self._store("phone", phone, {"people": [person.as_json()]})
        if email:
            self._store("email", email.strip().casefold(), {"people": [person.as_json()]})
        return person

    # --- the cache ------------------------------------------------------------------------

    def _cached(self, kind: str, key: str) -> JsonDict | None:
        found = self._cache.get(kind, key)
        if found is None or found.get("stale"):
            return None
        if found.get("missing"):
            at = found.get("at")
            if not isinstance(at, str) or self._clock() - parse_time(at) >= self._miss_ttl:
                return None
        return found

    def _store(self, kind: str, key: str, value: JsonDict | None) -> None:
        stored = value if value is not None else {"missing": True, "at": self._clock().isoformat()}
        self._cache.put(kind, key, stored)

    def _forget(self, phone: str | None, email: str | None) -> None:
        if phone:
            self._cache.put("phone", phone, {"stale": True})
        if email:
            self._cache.put("email", email.strip().casefold(), {"stale": True})


def contact_query(field: tuple[str, str], value: str) -> JsonDict:
    """Advanced Filtering: contacts with a phone (or e-mail) equal to ``value``."""
    object_type, field_name = field
    condition = {
        "type": "field_condition",
        "field": {"type": "regular_field", "object_type": object_type, "field_name": field_name},
        "condition": {"type": "text", "mode": "exact_value", "value": value},
    }
    return {
        "query": {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": "contact"},
                {
                    "type": "has_related",
                    "this_object_type": "contact",
                    "related_object_type": object_type,
                    "related_query": condition,
                },
            ],
        },
        "_fields": {"contact": ["id", "lead_id", "emails"]},
        "_limit": SEARCH_PAGE,
    }


def _person(record: JsonDict) -> Person | None:
    contact_id, lead_id = record.get("id"), record.get("lead_id")
    if not isinstance(contact_id, str) or not isinstance(lead_id, str):
        return None
    emails = tuple(
        str(item["email"]).casefold()
        for item in record.get("emails") or ()
        if isinstance(item, dict) and isinstance(item.get("email"), str)
    )
    return Person(contact_id, lead_id, emails)
