"""``resolve``: the Close user, lead and contact (and custom outcome) a canonical call needs.

Rules, in order (never a guess, never one call against several people):
0. a call Close would refuse whatever it hangs on (a duration over 7 days) is parked;
1. the user by ``call.user.email``; none: parked (callsync does not create Close users);
2. the person by the other side's number (E.164, ``outbound.remote_number``); no contact has
   it: by ``call.contact.email``;
3. several contacts (a company's main line): the one the call already names by Close id
   (``contact.ids["close"]``, also how a person's choice in ``callsync review`` arrives), else
   keep those with the source contact's e-mail, then those on the lead it names
   (``contact.ids["close:lead"]``); still several: parked with the contact ids as candidates;
4. nobody: parked ``no Close person with <number>``, or, with ``create_missing_contacts``, a new
   lead holding one contact with the number and e-mail;
5. the custom outcome named in setting ``outcomes`` for the call's outcome (completed calls
   only); a name Close does not know parks the call (an admin fixes the setting or the account).

``Resolved.links``: ``user_id``, ``lead_id``, ``contact_id``, ``outcome_id`` (or None).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from connectors.base import Parked, Resolved, WriteOptions
from connectors.close import outbound
from connectors.close.identity import Directory, Person
from connectors.close.settings import CloseSettings
from syncer.mapping import VendorTable
from syncer.model import Call

Narrowing = Callable[[Person], bool]


class Resolver:
    def __init__(
        self,
        directory: Directory,
        settings: CloseSettings,
        table: VendorTable,
        region: str,
        outcome_ids: Callable[[], dict[str, str]],
    ) -> None:
        self._directory = directory
        self._settings = settings
        self._table = table
        self._region = region
        self._outcome_ids = outcome_ids  # outcome name -> id, fetched once per connector

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        problem = outbound.unwritable(call)
        if problem is not None:
            return Parked(problem)
        email = call.user.email if call.user else None
        if not email:
            return Parked("the call has no user e-mail to find its Close user by")
        user_id = self._directory.user_id(email)
        if user_id is None:
            return Parked(f"no Close user with e-mail {email}")
        person = self._person(call, options)
        if isinstance(person, Parked):
            return person
        outcome_id = self._outcome(call)
        if isinstance(outcome_id, Parked):
            return outcome_id
        links = {
            "user_id": user_id,
            "lead_id": person.lead_id,
            "contact_id": person.contact_id,
            "outcome_id": outcome_id,
        }
        return Resolved(links=links)

    def _person(self, call: Call, options: WriteOptions) -> Person | Parked:
        number = outbound.remote_number(call, self._region)
        email = call.contact.email if call.contact else None
        if not number and not email:
            return Parked("the call has no number or e-mail of the person called")
        people = self._directory.by_phone(number) if number else []
        if not people and email:
            people = self._directory.by_email(email)
        if not people:
            return self._missing(call, number, email, options)
        chosen = decide(people, call)
        if chosen is not None:
            return chosen
        ids = tuple(sorted({p.contact_id for p in people}))
        return Parked(
            f"{len(ids)} Close contacts match {number or email} and nothing tells them apart",
            candidates=ids,
        )

    def _missing(
        self, call: Call, number: str | None, email: str | None, options: WriteOptions
    ) -> Person | Parked:
        wanted = " or ".join(item for item in (number, email) if item)
        if not options.create_missing_contacts:
            return Parked(f"no Close person with {wanted}")
        name = (call.contact.name if call.contact else None) or email or number or "Unknown"
        return self._directory.create(name, number, email)

    def _outcome(self, call: Call) -> str | Parked | None:
        name = self._settings.outcomes.get(call.outcome)
        if name is None or outbound.status(call, self._table) != outbound.COMPLETED:
            return None
        found = self._outcome_ids().get(" ".join(name.split()).casefold())
        if found is None:
            return Parked(
                f"no Close outcome named {name!r} (setting outcomes.{call.outcome.value})"
            )
        return found


def decide(people: Sequence[Person], call: Call) -> Person | None:
    """The one contact the call is about, or None when the facts do not single one out."""
    unique = {person.contact_id: person for person in people}
    if len(unique) == 1:
        return next(iter(unique.values()))
    contact = call.contact
    email = (contact.email or "").strip().casefold() if contact else ""
    known = contact.ids if contact else {}
    if known.get("close") in unique:  # named by its Close id (or chosen by a person): it
        return unique[known["close"]]
    narrowings: list[Narrowing] = [
        lambda p: bool(email) and email in p.emails,
        lambda p: p.contact_id == known.get("close"),
        lambda p: p.lead_id == known.get("close:lead"),
    ]
    remaining = list(unique.values())
    for narrowing in narrowings:
        kept = [person for person in remaining if narrowing(person)]
        if kept:
            remaining = kept
        if len(remaining) == 1:
            return remaining[0]
    return None
