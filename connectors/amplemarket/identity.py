"""Who and what a logged call hangs on: the user, the contact and the contact's task.

``POST /calls`` ties a call to a contact only through a task (§1.7), and the API has no
contact search, so every look-up goes through what it does expose:

- the user: ``GET /users?email=`` (the address as given, then lower-cased);
- contacts by number: ``GET /calls?to=<number>`` (first page, newest first) in each way the
  number is commonly written (the vendor stores numbers as typed and matches them exactly,
  §1.15.6); the calls name their contact ``{id, name, email}``. A contact never called on
  that number is found by email instead;
- contacts by email, and every task: ``GET /tasks?user_id=&type=phone_call&status=scheduled&
  automatic=false&keyword=<email or name>`` (§1.13), matched exactly on our side.

Every look-up is cached in ``context.identities`` (kinds ``user``: lower-cased email;
``phone``: E.164; ``tasks``: ``<user id>:<lower-cased keyword>``), misses as
``{"missing": True}`` (the cache keeps those for a shorter time). A task entry is overwritten
with ``{"stale": True}`` (read as absent) once a write completed or was refused on its task.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connectors.amplemarket.client import CALLS_PATH, TASKS_PATH, USERS_PATH, AmplemarketClient
from connectors.amplemarket.payload import distinct, number_variants
from connectors.base import IdentityCache, JsonDict

MISSING: JsonDict = {"missing": True}
STALE: JsonDict = {"stale": True}


@dataclass(frozen=True)
class Person:
    id: str
    email: str | None = None
    name: str | None = None

    @classmethod
    def from_raw(cls, raw: object) -> Person | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return None
        email, name = raw.get("email"), raw.get("name")
        return cls(
            raw["id"],
            email if isinstance(email, str) and email else None,
            name if isinstance(name, str) and name else None,
        )

    def to_json(self) -> JsonDict:
        return {"id": self.id, "email": self.email, "name": self.name}

    @property
    def keyword(self) -> str | None:
        """What ``GET /tasks?keyword=`` finds this contact by."""
        return self.email or self.name

    def has_email(self, email: str | None) -> bool:
        return email is not None and (self.email or "").casefold() == email.casefold()

    def describe(self) -> str:
        return f"{self.email or self.name or 'contact'} ({self.id})"


@dataclass(frozen=True)
class Task:
    id: str
    contact: Person
    due_on: str

    @classmethod
    def from_raw(cls, raw: JsonDict) -> Task | None:
        contact = Person.from_raw(raw.get("contact"))
        if not isinstance(raw.get("id"), str) or contact is None:
            return None
        return cls(raw["id"], contact, str(raw.get("due_on") or ""))

    def to_json(self) -> JsonDict:
        return {"id": self.id, "contact": self.contact.to_json(), "due_on": self.due_on}


class Directory:
    """The cached look-ups (no decisions: ``resolution`` decides)."""

    def __init__(
        self, client: AmplemarketClient, cache: IdentityCache | None, page_size: int | None
    ) -> None:
        self.client = client
        self.cache = cache
        self.page_size = page_size

    def _cached(self, kind: str, key: str) -> JsonDict | None:
        value = None if self.cache is None else self.cache.get(kind, key)
        return None if value is None or value.get("stale") else value

    def _store(self, kind: str, key: str, value: JsonDict) -> None:
        if self.cache is not None:
            self.cache.put(kind, key, value)

    def _size(self) -> dict[str, str]:
        return {} if self.page_size is None else {"page[size]": str(self.page_size)}

    # --- users -----------------------------------------------------------------------------

    def user_id(self, email: str) -> str | None:
        key = email.strip().casefold()
        cached = self._cached("user", key)
        if cached is not None:
            return None if cached.get("missing") else str(cached["id"])
        found = self._find_user(email.strip())
        self._store("user", key, MISSING if found is None else {"id": found})
        return found

    def _find_user(self, email: str) -> str | None:
        for asked in distinct([email, email.lower()]):
            for page in self.client.listing(USERS_PATH, "users", {"email": asked}):
                for user in page:
                    if str(user.get("email", "")).casefold() == email.casefold():
                        return str(user["id"])
        return None

    # --- contacts by number --------------------------------------------------------------------

    def contacts_by_number(self, e164: str) -> list[Person]:
        cached = self._cached("phone", e164)
        if cached is not None:
            return [] if cached.get("missing") else _people(cached["contacts"])
        found: dict[str, Person] = {}
        for variant in number_variants(e164):
            params = {**self._size(), "to": variant}
            for page in self.client.listing(CALLS_PATH, "calls", params, pages=1):
                for call in page:
                    if call.get("to") != variant:
                        continue  # only what the filter promised (should it be ignored)
                    person = Person.from_raw(call.get("contact"))
                    if person is not None:
                        found.setdefault(person.id, person)
        people = sorted(found.values(), key=lambda p: p.id)
        value = {"contacts": [p.to_json() for p in people]} if people else MISSING
        self._store("phone", e164, value)
        return people

    # --- tasks -------------------------------------------------------------------------------

    def tasks(self, user_id: str, keyword: str) -> list[Task]:
        """The user's scheduled manual ``phone_call`` tasks whose contact ``keyword`` finds."""
        key = f"{user_id}:{keyword.strip().casefold()}"
        cached = self._cached("tasks", key)
        if cached is not None:
            return [] if cached.get("missing") else _tasks(cached["tasks"])
        params = {
            **self._size(),
            "user_id": user_id,
            "type": "phone_call",
            "status": "scheduled",
            "automatic": "false",
            "keyword": keyword.strip(),
        }
        found = [
            task
            for page in self.client.listing(TASKS_PATH, "tasks", params)
            for raw in page
            if _open_call_task(raw) and (task := Task.from_raw(raw)) is not None
        ]
        self._store("tasks", key, {"tasks": [t.to_json() for t in found]} if found else MISSING)
        return found

    def forget_tasks(self, user_id: str, keyword: str) -> None:
        """A task was completed (by our disposition) or refused: look it up again next time
        (the cache cannot delete, so the entry is overwritten with one that counts as absent)."""
        self._store("tasks", f"{user_id}:{keyword.strip().casefold()}", STALE)


def _open_call_task(raw: JsonDict) -> bool:
    # The filters were sent; checked again in case the API ignores one (unconfirmed).
    return (
        raw.get("type") == "phone_call"
        and raw.get("status") == "scheduled"
        and raw.get("automatic") is False
    )


def _people(raw: Iterable[object]) -> list[Person]:
    return [p for p in map(Person.from_raw, raw) if p is not None]


def _tasks(raw: Iterable[JsonDict]) -> list[Task]:
    return [t for t in map(Task.from_raw, raw) if t is not None]
