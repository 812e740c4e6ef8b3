"""Where the Close emulator keeps its organisation: every record lives in the framework's StateDB
(collections + meta), so an emulator backed by a file outlives a killed callsync process.

Collections (``k1..k3`` keys in brackets, ``owner`` after the slash):
- ``users``, ``api_keys``, ``outcomes``, ``leads`` (insertion order is the list order)
- ``contacts`` / lead id
- ``contact_terms`` [term] / contact id: the phone (E.164) and e-mail (lower-case) look-up index
- ``calls`` [created, activity] / lead id: ``{"rec": <call>, "created": us, "activity": us}``
- ``events`` [updated] / object id: see ``_events.py``
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.emulation import Clock, StateDB
from connectors.emulation.state import Stored

from ._support import ORG_ID, iso, make_id, to_ms

INTEGRATION_USER = {
    "first_name": "callsync",
    "last_name": "Integration",
    "email": "integration@callsync-demo.test",
}

# The outcomes a fresh organisation has (§1.7): ``vm-dropped`` ones apply to calls only.
DEFAULT_OUTCOMES = (
    ("Interested", "custom"),
    ("Not interested", "custom"),
    ("Meeting booked", "custom"),
    ("Call back later", "custom"),
    ("Wrong number", "custom"),
    ("Left message with gatekeeper", "custom"),
    ("Voicemail dropped", "vm-dropped"),
)


@dataclass(frozen=True)
class Caller:
    """Who is acting: an API key (``api_key_id`` set) or a user in Close's UI (``None``)."""

    user_id: str
    api_key_id: str | None
    is_admin: bool


def outcome_id_for(name: str) -> str:
    return make_id("outcome", name, length=22)


def user_id_for(world_key: str) -> str:
    return make_id("user", f"world:{world_key}")


def integration_user_id() -> str:
    return make_id("user", "integration")


class CloseState:
    """Typed access to the emulator's collections, plus the organisation's bootstrap."""

    def __init__(self, db: StateDB, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.users = db.collection("close_users")
        self.api_keys = db.collection("close_api_keys")
        self.outcomes = db.collection("close_outcomes")
        self.leads = db.collection("close_leads")
        self.contacts = db.collection("close_contacts")
        self.contact_terms = db.collection("close_contact_terms", keys=("term",))
        self.calls = db.collection("close_calls", keys=("created", "activity"))
        self.events = db.collection("close_events", keys=("updated",))

    # --- bootstrap ----------------------------------------------------------------------------

    def bootstrap(self, demo_api_key: str, demo_is_admin: bool) -> None:
        """Create the organisation, its integration user, demo key and outcomes (idempotent)."""
        if self.db.get_meta("close:bootstrapped") == "1":
            return
        now = to_ms(self.clock.now())
        with self.db.transaction():
            self.put_user(
                integration_user_id(),
                INTEGRATION_USER["first_name"],
                INTEGRATION_USER["last_name"],
                INTEGRATION_USER["email"],
                None,
                now,
            )
            self.api_keys.put(
                demo_api_key,
                {
                    "user_id": integration_user_id(),
                    "api_key_id": make_id("api", demo_api_key, 22),
                    "admin": demo_is_admin,
                },
            )
            for name, kind in DEFAULT_OUTCOMES:
                self.put_outcome(name, kind, now)
            self.db.set_meta("close:bootstrapped", "1")

    # --- counters (ids of records created through the API survive restarts) ------------------

    def next_token(self, kind: str) -> str:
        # One lock only (the StateDB's re-entrant one): a second lock could deadlock against
        # a transaction that holds the database lock and asks for a counter.
        with self.db.lock:
            key = f"close:counter:{kind}"
            value = int(self.db.get_meta(key, "0") or "0") + 1
            self.db.set_meta(key, str(value))
            return f"api:{value}"

    # --- users and keys -----------------------------------------------------------------------

    def put_user(
        self, user_id: str, first: str, last: str, email: str, phone: str | None, now: datetime
    ) -> None:
        user = {
            "id": user_id,
            "first_name": first,
            "last_name": last,
            "email": email,
            "image": None,
            "organizations": [ORG_ID],
            "date_created": iso(now),
            "date_updated": iso(now),
        }
        self.users.put(user_id, {"user": user, "phone": phone})

    def user(self, user_id: str) -> dict[str, Any] | None:
        found = self.users.get(user_id)
        return None if found is None else dict(found["user"])

    def user_phone(self, user_id: str) -> str | None:
        found = self.users.get(user_id)
        return None if found is None else found.get("phone")

    def user_name(self, user_id: str | None) -> str | None:
        user = self.user(user_id) if user_id else None
        return None if user is None else f"{user['first_name']} {user['last_name']}".strip()

    def caller_for_key(self, api_key: str) -> Caller | None:
        found = self.api_keys.get(api_key)
        if found is None:
            return None
        return Caller(found["user_id"], found["api_key_id"], bool(found["admin"]))

    def add_api_key(self, api_key: str, user_id: str, admin: bool) -> None:
        self.api_keys.put(
            api_key, {"user_id": user_id, "api_key_id": make_id("api", api_key, 22), "admin": admin}
        )

    # --- outcomes -----------------------------------------------------------------------------

    def put_outcome(self, name: str, kind: str, now: datetime) -> str:
        outcome_id = outcome_id_for(name)
        applies_to = ["calls"] if kind == "vm-dropped" else ["calls", "meetings"]
        outcome = {
            "id": outcome_id,
            "name": name,
            "description": "",
            "type": kind,
            "applies_to": applies_to,
            "organization_id": ORG_ID,
            "created_by": integration_user_id(),
            "updated_by": integration_user_id(),
            "date_created": iso(now),
            "date_updated": iso(now),
        }
        self.outcomes.put(outcome_id, {"outcome": outcome, "deleted": False})
        return outcome_id

    def outcome(self, outcome_id: str) -> dict[str, Any] | None:
        """A live outcome; deleted ones can no longer be fetched or set (§1.7)."""
        found = self.outcomes.get(outcome_id)
        if found is None or found["deleted"]:
            return None
        return dict(found["outcome"])

    def delete_outcome(self, outcome_id: str) -> bool:
        found = self.outcomes.get(outcome_id)
        if found is None or found["deleted"]:
            return False
        self.outcomes.put(outcome_id, {**found, "deleted": True})
        return True

    def live_outcomes(self) -> Iterator[dict[str, Any]]:
        for stored in self.outcomes.scan(where=lambda doc: not doc["deleted"]):
            yield stored.doc["outcome"]

    # --- leads and contacts ------------------------------------------------------------------

    def put_lead(self, lead: dict[str, Any]) -> None:
        self.leads.put(lead["id"], lead)

    def lead(self, lead_id: str) -> dict[str, Any] | None:
        return self.leads.get(lead_id)

    def contacts_of(self, lead_id: str) -> list[dict[str, Any]]:
        return [stored.doc for stored in self.contacts.scan(owner=lead_id)]

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        return self.contacts.get(contact_id)

    def put_contact(self, contact: dict[str, Any], *, fresh: bool = False) -> None:
        """Store a contact and (re)index its phones and e-mails for look-ups.

        ``fresh`` skips looking for stale index rows (seeding writes new contacts only).
        """
        self.contacts.put(contact["id"], contact, owner=contact["lead_id"])
        if not fresh:
            for stale in list(self.contact_terms.scan(owner=contact["id"])):
                self.contact_terms.delete(stale.id)
        for term in contact_terms(contact):
            self.contact_terms.put(
                f"{term}|{contact['id']}",
                {"term": term, "contact_id": contact["id"], "lead_id": contact["lead_id"]},
                owner=contact["id"],
            )

    def contacts_with_term(self, term: str) -> list[dict[str, Any]]:
        """Contacts whose phone (``phone:+1...``) or e-mail (``email:a@b``) matches exactly."""
        found = []
        for stored in self.contact_terms.scan(order_by="term", gte=term, lte=term):
            contact = self.contacts.get(stored.doc["contact_id"])
            if contact is not None:
                found.append(contact)
        return found

    def all_contacts(self) -> Iterator[Stored]:
        return self.contacts.scan()


def contact_terms(contact: dict[str, Any]) -> Iterable[str]:
    """Index terms of a contact: its E.164 phones and lower-cased e-mails."""
    for phone in contact.get("phones", []):
        yield f"phone:{phone['phone']}"
    for email in contact.get("emails", []):
        yield f"email:{email['email'].lower()}"
