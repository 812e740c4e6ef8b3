"""Who a written call belongs to in Pipedrive: its user, its person, and its deal or lead.

Rules (issue 5; vendor-apis close-pipedrive.md §2.6, §2.9):
- the user is found by email (``GET /api/v1/users/find?search_by_email=1``, 40 tokens); a
  call of another user needs the connection's token to be an admin's (checked once per token
  with ``/v1/users/me``, 2 tokens), else the call is parked;
- the person called is found by number (``/api/v2/persons/search`` on the phone field, 20
  tokens: the term is the national number, and every hit is normalised to E.164 and compared,
  because Pipedrive keeps phones as typed), then by the contact's email (exact match);
- several persons on one number (a company's main line): the one the call already names
  (``contact.ids["pipedrive"]``), else the one with the contact's email, else the one linked
  to the call's deal or lead, else the only one with any deal or lead; still several: parked
  with the candidates. One call is never logged against several persons;
- the deal XOR lead: the one the person's activities point at, when exactly one
  (``settings.link_deals``; one activity page, 10 tokens per person), else none.

Every look-up is cached in ``context.identities`` (kinds ``user``, ``phone``, ``email``,
``links``, ``token``), misses as ``{"missing": True}`` (they expire sooner). With
``create_missing_contacts`` a cached miss is searched again before a person is created
(``POST /api/v2/persons``), so a person added meanwhile is never created twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import phonenumbers
import structlog

from connectors.base import IdentityCache, JsonDict, Parked, Resolved, WriteOptions
from connectors.pipedrive.client import ACTIVITIES, PipedriveClient, credential_key
from connectors.pipedrive.settings import PipedriveSettings
from syncer.errors import AmbiguousWriteError, AuthError, VendorError
from syncer.model import Call, Direction, PhoneNumber

log = structlog.get_logger("callsync.pipedrive")

USERS_FIND = "/api/v1/users/find"
PERSON_SEARCH = "/api/v2/persons/search"
PERSONS = "/api/v2/persons"
SEARCH_LIMIT = 100
SEARCH_PAGES = 3  # a main line shared by more than 300 persons cannot be decided anyway
LINK_CHECKS = 5  # candidates whose deal/lead links may be looked up to decide a main line
SYSTEM = "pipedrive"


class MemoryIdentities:
    """The cache when the engine gives none (one-off tools, cassette tests)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], JsonDict] = {}

    def get(self, kind: str, key: str) -> JsonDict | None:
        return self._values.get((kind, key))

    def put(self, kind: str, key: str, value: JsonDict) -> None:
        self._values[(kind, key)] = value


@dataclass(frozen=True)
class Person:
    id: int
    emails: tuple[str, ...] = ()
    org_id: int | None = None

    def to_json(self) -> JsonDict:
        return {"id": self.id, "emails": list(self.emails), "org_id": self.org_id}

    @classmethod
    def from_json(cls, value: JsonDict) -> Person:
        return cls(int(value["id"]), tuple(value.get("emails") or ()), value.get("org_id"))


def their_number(call: Call) -> PhoneNumber | None:
    """The person's side: the caller of an inbound call, else the number called."""
    if call.direction is Direction.INBOUND:
        return call.from_number
    return call.to_number


class Resolver:
    def __init__(
        self,
        client: PipedriveClient,
        cache: IdentityCache,
        settings: PipedriveSettings,
        region: str,
    ) -> None:
        self.client = client
        self.cache = cache
        self.settings = settings
        self.region = region

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        if call.to_number is None:
            return Parked("the call has no called number; Pipedrive requires to_phone_number")
        email = call.user.email if call.user is not None else None
        if not email:
            return Parked("the call has no user email to find its Pipedrive user by")
        user_id = self.user_id(email)
        if user_id is None:
            return Parked(f"no Pipedrive user with email {email}")
        refused = self._may_log_for(user_id, email)
        if refused is not None:
            return refused
        person = self.person(call, options, owner=user_id)
        if isinstance(person, Parked):
            return person
        deal_id, lead_id = self.links(person.id) if self.settings.link_deals else (None, None)
        return Resolved(
            links={
                "user_id": user_id,
                "person_id": person.id,
                "org_id": person.org_id,
                "deal_id": deal_id,
                "lead_id": lead_id,
            }
        )

    # --- the user -------------------------------------------------------------------------

    def user_id(self, email: str) -> int | None:
        key = email.strip().lower()
        cached = self.cache.get("user", key)
        if cached is not None:
            return None if cached.get("missing") else int(cached["id"])
        params = {"term": key, "search_by_email": 1}
        users = self.client.get(USERS_FIND, params).get("data") or []  # null: nobody
        found = [u["id"] for u in users if str(u.get("email", "")).strip().lower() == key]
        if len(found) != 1:
            self.cache.put("user", key, {"missing": True})
            return None
        self.cache.put("user", key, {"id": found[0]})
        return int(found[0])

    def _may_log_for(self, user_id: int, email: str) -> Parked | None:
        """Another user's call needs an admin token (§2.6)."""
        key = credential_key(self.settings.api_token)
        me = self.cache.get("token", key)
        if me is None:
            profile = self.client.me()
            access = profile.get("access") or []
            admin = any(isinstance(a, dict) and a.get("admin") is True for a in access)
            me = {"id": profile.get("id"), "admin": admin}
            self.cache.put("token", key, me)
        if me.get("id") == user_id or me.get("admin") is True:
            return None
        return Parked(f"logging calls for {email} needs an admin API token on this connection")

    # --- the person -----------------------------------------------------------------------

    def person(self, call: Call, options: WriteOptions, owner: int) -> Person | Parked:
        number = their_number(call)
        e164 = number.e164 if number is not None else None
        email = (call.contact.email or "").strip().lower() if call.contact else ""
        fresh = options.create_missing_contacts
        if e164:
            found = self._by_phone(e164, fresh=fresh)
            if found:
                return self._decide(found, call, e164)
        if email:
            found = self._by_email(email, fresh=fresh)
            if found:
                return self._decide(found, call, email)
        label = " or ".join(part for part in (e164 or wire_or_none(number), email) if part)
        if options.create_missing_contacts:
            return self._create(call, e164, email, owner, label)
        return Parked(f"no Pipedrive person with {label or 'no number and no email'}")

    def _decide(self, found: list[Person], call: Call, what: str) -> Person | Parked:
        if len(found) == 1:
            return found[0]
        ids = call.contact.ids if call.contact is not None else {}
        named = [p for p in found if str(p.id) == ids.get(SYSTEM)]
        if len(named) == 1:
            return named[0]
        email = (call.contact.email or "").strip().lower() if call.contact else ""
        pool = [p for p in found if email and email in p.emails] or found
        if len(pool) == 1:
            return pool[0]
        decided = self._by_link(pool, ids)
        if decided is not None:
            return decided
        return Parked(
            f"{len(pool)} Pipedrive persons share {what}; neither the contact's email nor a "
            "deal or lead link decides which one was called",
            candidates=tuple(str(p.id) for p in pool),
        )

    def _by_link(self, pool: list[Person], ids: dict[str, str]) -> Person | None:
        if not self.settings.link_deals or len(pool) > LINK_CHECKS:
            return None
        links = {p.id: self.links(p.id) for p in pool}
        wanted = {ids.get(f"{SYSTEM}:deal"), ids.get(f"{SYSTEM}:lead")} - {None}
        same = [p for p in pool if wanted & {str(x) for x in links[p.id] if x is not None}]
        if len(same) == 1:
            return same[0]
        linked = [p for p in pool if links[p.id] != (None, None)]
        return linked[0] if len(linked) == 1 else None

    def _by_phone(self, e164: str, *, fresh: bool) -> list[Person]:
        cached = self.cache.get("phone", e164)
        if cached is not None and not (fresh and cached.get("missing")):
            return [Person.from_json(p) for p in cached.get("persons") or ()]
        term = _national(e164)
        found = [
            _person(item)
            for item in self._search(term, "phone")
            if e164 in {self._e164(str(phone)) for phone in item.get("phones") or ()}
        ]
        self._remember("phone", e164, found)
        return found

    def _by_email(self, email: str, *, fresh: bool) -> list[Person]:
        cached = self.cache.get("email", email)
        if cached is not None and not (fresh and cached.get("missing")):
            return [Person.from_json(p) for p in cached.get("persons") or ()]
        found = [
            p for p in map(_person, self._search(email, "email", exact=True)) if email in p.emails
        ]
        self._remember("email", email, found)
        return found

    def _remember(self, kind: str, key: str, found: list[Person]) -> None:
        value = {"persons": [p.to_json() for p in found]} if found else {"missing": True}
        self.cache.put(kind, key, value)

    def _search(self, term: str, field: str, *, exact: bool = False) -> Iterator[JsonDict]:
        params: dict[str, Any] = {"term": term, "fields": field, "limit": SEARCH_LIMIT}
        if exact:
            params["exact_match"] = "true"
        for _ in range(SEARCH_PAGES):
            body = self.client.get(PERSON_SEARCH, params)
            for hit in (body.get("data") or {}).get("items") or ():
                item = hit.get("item") if isinstance(hit, dict) else None
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    yield item
            cursor = (body.get("additional_data") or {}).get("next_cursor")
            if not isinstance(cursor, str):
                return
            params["cursor"] = cursor

    def _e164(self, text: str) -> str | None:
        return PhoneNumber.parse(text, self.region).e164

    # --- creating a missing person --------------------------------------------------------

    def _create(
        self, call: Call, e164: str | None, email: str, owner: int, label: str
    ) -> Person | Parked:
        contact = call.contact
        body: JsonDict = {"name": (contact.name if contact else None) or label, "owner_id": owner}
        if e164:
            body["phones"] = [{"value": e164, "primary": True, "label": "work"}]
        if email:
            body["emails"] = [{"value": email, "primary": True, "label": "work"}]
        try:
            data = self.client.send("POST", PERSONS, json=body, create=True).get("data") or {}
        except AmbiguousWriteError:
            return Parked(f"creating the Pipedrive person for {label} may have happened; "
                          "it is searched for again on the next attempt")  # fmt: skip
        except AuthError:
            raise
        except VendorError as error:
            return Parked(f"Pipedrive refused to create a person for {label}: {error.message}")
        person = Person(int(data["id"]), (email,) if email else (), data.get("org_id"))
        log.info("pipedrive.person_created", person_id=person.id)
        for kind, key in (("phone", e164), ("email", email)):
            if key:
                self._remember(kind, key, [person])
        return person

    # --- the deal or lead -----------------------------------------------------------------

    def links(self, person_id: int) -> tuple[int | None, str | None]:
        """(deal_id, lead_id) the person's latest activities point at, if exactly one.

        The emulated API has no deals or leads endpoints, so an existing link is what the
        person's activities (any type, newest first, one page) are filed under.
        """
        cached = self.cache.get("links", str(person_id))
        if cached is None:
            cached = self._links(person_id)
            self.cache.put("links", str(person_id), cached)
        return cached.get("deal_id"), cached.get("lead_id")

    def _links(self, person_id: int) -> JsonDict:
        params = {
            "person_id": person_id,
            "sort_by": "update_time",
            "sort_direction": "desc",
            "limit": self.settings.activity_page_size,
        }
        deals: set[int] = set()
        leads: set[str] = set()
        for activity in self.client.get(ACTIVITIES, params).get("data") or ():
            if activity.get("is_deleted"):
                continue
            if isinstance(activity.get("deal_id"), int):
                deals.add(activity["deal_id"])
            if isinstance(activity.get("lead_id"), str):
                leads.add(activity["lead_id"])
        if len(deals) + len(leads) != 1:
            return {"deal_id": None, "lead_id": None}
        return {"deal_id": next(iter(deals), None), "lead_id": next(iter(leads), None)}


def _person(item: JsonDict) -> Person:
    org = item.get("organization")
    emails = tuple(str(e).strip().lower() for e in item.get("emails") or ())
    org_id = org.get("id") if isinstance(org, dict) else None
    return Person(int(item["id"]), emails, org_id if isinstance(org_id, int) else None)


def _national(e164: str) -> str:
    """The digits people type (Pipedrive's phone search matches digits, not E.164)."""
    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")


def wire_or_none(number: PhoneNumber | None) -> str | None:
    return None if number is None else (number.raw.strip() or None)
