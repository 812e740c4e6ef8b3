"""``resolve``: the user, the one contact and the task a call is logged against, or why not.

Rules, in order (never guess, never log one call against several people):

1. the user by ``call.user.email``; none -> parked;
2. the contact by the person's number (``to`` outbound, ``from`` inbound, E.164): the contacts
   of earlier calls on that number. One -> it. Several (a company's main line) -> the one
   whose email is the source contact's; else the contact the source email finds through the
   user's tasks; else the only one the user has an open phone task for (Amplemarket's link to
   a lead); else parked with the candidates;
3. no contact on the number -> by the source contact's email among the user's tasks; several
   contacts with that email -> parked with the candidates; none -> parked ("no Amplemarket
   person with <number>"): the API cannot create contacts or tasks, so
   ``create_missing_contacts`` cannot help and the reason says so;
4. the task: the contact's scheduled manual ``phone_call`` task of that user, the earliest due
   first; none -> parked (``POST /calls`` cannot log a call without one).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.amplemarket.identity import Directory, Person, Task
from connectors.amplemarket.payload import UnwritableCall, check_writable, contact_number
from connectors.base import Parked, Resolved, WriteOptions
from syncer.model import Call

NO_CREATE = (
    "; Amplemarket's API cannot create contacts or tasks (create_missing_contacts cannot "
    "help): add the contact to a sequence or give it a phone_call task in Amplemarket"
)


class Resolver:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        try:
            check_writable(call)
        except UnwritableCall as error:
            return Parked(str(error))
        email = (call.user.email or "").strip() if call.user else ""
        if not email:
            return Parked("the call names no user email; Amplemarket logs calls per user")
        user_id = self.directory.user_id(email)
        if user_id is None:
            return Parked(f"no Amplemarket user with {email}")
        person = self._person(call, user_id, options)
        if isinstance(person, Parked):
            return person
        task = self._task(user_id, person)
        if task is None:
            return Parked(
                f"Amplemarket contact {person.describe()} has no scheduled manual phone_call "
                f"task of {email}; POST /calls needs one"
            )
        links = {"user_id": user_id, "task_id": task.id, "contact_id": person.id}
        return Resolved({**links, "contact_keyword": person.keyword})

    # --- the person ----------------------------------------------------------------------------

    def _person(self, call: Call, user_id: str, options: WriteOptions) -> Person | Parked:
        phone = contact_number(call)
        number = phone.e164 if phone is not None else None
        email = _source_email(call)
        on_number = self.directory.contacts_by_number(number) if number else []
        if len(on_number) == 1:
            return on_number[0]
        if on_number:
            return self._decide(on_number, number or "", email, user_id)
        by_email = self._by_email(user_id, email)
        if len(by_email) == 1:
            return by_email[0]
        if by_email:
            return _ambiguous(f"{len(by_email)} Amplemarket contacts have {email}", by_email)
        return Parked(_missing(number, email, options))

    def _decide(
        self, candidates: Sequence[Person], number: str, email: str | None, user_id: str
    ) -> Person | Parked:
        same = [p for p in candidates if p.has_email(email)]
        if len(same) == 1:
            return same[0]
        if not same:
            by_email = self._by_email(user_id, email)
            if len(by_email) == 1:
                return by_email[0]
        pool = same or list(candidates)
        linked = [p for p in pool if self._task(user_id, p) is not None]
        if len(linked) == 1:
            return linked[0]
        return _ambiguous(
            f"{len(pool)} Amplemarket contacts share {number} and neither the email nor an "
            "open task decides",
            pool,
        )

    def _by_email(self, user_id: str, email: str | None) -> list[Person]:
        if email is None:
            return []
        found = {
            task.contact.id: task.contact
            for task in self.directory.tasks(user_id, email)
            if task.contact.has_email(email)
        }
        return sorted(found.values(), key=lambda p: p.id)

    # --- the task ------------------------------------------------------------------------------

    def _task(self, user_id: str, person: Person) -> Task | None:
        if person.keyword is None:
            return None
        mine = [
            t for t in self.directory.tasks(user_id, person.keyword) if t.contact.id == person.id
        ]
        return min(mine, key=lambda t: (t.due_on, t.id), default=None)


def _source_email(call: Call) -> str | None:
    email = (call.contact.email or "").strip() if call.contact else ""
    return email or None


def _ambiguous(reason: str, people: Sequence[Person]) -> Parked:
    return Parked(reason, candidates=tuple(p.id for p in people))


def _missing(number: str | None, email: str | None, options: WriteOptions) -> str:
    who = " or ".join(part for part in (number, email) if part) or "no number or email"
    reason = f"no Amplemarket person with {who}"
    if options.create_missing_contacts:
        return reason + NO_CREATE
    return reason + " (not on earlier calls, not on the user's scheduled phone_call tasks)"
