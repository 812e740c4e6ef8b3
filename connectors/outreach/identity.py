"""Who a written call hangs on in Outreach: its user, its prospect, and the org's labels.

Facts (shared/vendor-apis/amplemarket-outreach.md §2, the emulator's package docstring):

- Users: ``GET /users?filter[email]=...``.
- Prospects by email: ``GET /prospects?filter[emails]=...`` (case-insensitive).
- Prospects by phone: the prospect's phone arrays are not filterable; the ``phoneNumber``
  resource is, by its normalised E.164 ``number`` (``GET /phoneNumbers?filter[number]=+1...``),
  and names its prospect. An exact match: the number is normalised here first.
- Creating prospects (``POST /prospects``) is not implemented (the emulator has no such route),
  so ``create_missing_contacts`` parks the call with a reason saying so.

Rules: the person called is found by number (outbound: ``to_number``; inbound: ``from_number``;
else the contact's phone), then by the contact's email. One prospect on the number wins; several
(a company's main line) are told apart by the email; still several: parked with the candidates.
Outreach has no deal or lead a canonical call names, so there is no further tie-breaker. A call
is never logged against more than one prospect.

Every look-up result is cached in ``context.identities`` (kinds ``user``, ``phone``, ``email``;
keys the lower-cased email or the E.164 number); misses are cached as ``{"missing": True}``,
which the cache keeps for a shorter time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.base import IdentityCache, JsonDict, Parked, Resolved, WriteOptions
from connectors.outreach.client import OutreachClient
from connectors.outreach.labels import LabelCatalog, related_id
from connectors.outreach.settings import MAX_PAGE_SIZE, OutreachSettings
from syncer.model import Call, Direction, PhoneNumber

USER, PHONE, EMAIL = "user", "phone", "email"  # identity cache kinds
MISSING: JsonDict = {"missing": True}
NOT_CREATED = (
    "create_missing_contacts is on, but callsync cannot create Outreach prospects (POST "
    "/prospects is not supported by this connector): add the prospect in Outreach"
)


class MemoryIdentities:
    """A per-instance cache for contexts without the database-backed one."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], JsonDict] = {}

    def get(self, kind: str, key: str) -> JsonDict | None:
        return self._values.get((kind, key))

    def put(self, kind: str, key: str, value: JsonDict) -> None:
        self._values[(kind, key)] = value


@dataclass(frozen=True)
class Person:
    prospect: str
    phone_number: str | None  # the prospect's phoneNumber record the call went to, if known


def contact_number(call: Call, region: str) -> str | None:
    """The E.164 number of the person called (None when the call has no usable one)."""
    numbers: list[PhoneNumber | None] = []
    if call.direction is Direction.OUTBOUND:
        numbers.append(call.to_number)
    elif call.direction is Direction.INBOUND:
        numbers.append(call.from_number)
    numbers.append(call.contact.phone if call.contact else None)
    for number in numbers:
        if number is None:
            continue
        e164 = number.e164 or PhoneNumber.parse(number.raw, region).e164
        if e164:
            return e164
    return None


def _email(party_email: str | None) -> str | None:
    email = (party_email or "").strip().lower()
    return email or None


class IdentityResolver:
    def __init__(
        self,
        client: OutreachClient,
        cache: IdentityCache | None,
        labels: LabelCatalog,
        settings: OutreachSettings,
        region: str,
    ) -> None:
        self._client = client
        self._cache: IdentityCache = cache if cache is not None else MemoryIdentities()
        self._labels = labels
        self._settings = settings
        self._region = region

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        email = _email(call.user.email if call.user else None)
        if email is None:
            return Parked("the call has no user email to find its Outreach user by")
        user = self.user(email)
        if user is None:
            return Parked(f"no Outreach user with email {email}")
        person = self.person(call)
        if isinstance(person, Parked):
            return person
        if person is None:
            reason = self.missing_reason(call)
            return Parked(f"{reason}; {NOT_CREATED}" if options.create_missing_contacts else reason)
        labels = self.labels(call)
        if isinstance(labels, Parked):
            return labels
        links = {"user": user, "prospect": person.prospect, "phoneNumber": person.phone_number}
        return Resolved({**links, **labels})

    # --- the user -----------------------------------------------------------------------------

    def user(self, email: str) -> str | None:
        cached = self._cache.get(USER, email)
        if cached is None:
            found = sorted({str(r["id"]) for r in self._list("users", "filter[email]", email)})
            # Outreach keeps user emails unique; two answers would be a surprise worth a miss.
            cached = {"id": found[0]} if len(found) == 1 else MISSING
            self._cache.put(USER, email, cached)
        return None if cached.get("missing") else str(cached["id"])

    # --- the person called --------------------------------------------------------------------

    def person(self, call: Call) -> Person | Parked | None:
        """The prospect, a parked ambiguity, or None when no prospect matches."""
        number = contact_number(call, self._region)
        email = _email(call.contact.email if call.contact else None)
        matches = self.by_phone(number) if number else []
        prospects = sorted({prospect for prospect, _ in matches}, key=_id_order)
        if len(prospects) == 1:
            return Person(prospects[0], _phone_of(matches, prospects[0]))
        by_email = self.by_email(email) if email else []
        if not prospects:
            if len(by_email) == 1:
                return Person(by_email[0], None)
            if by_email:
                return Parked(
                    f"{len(by_email)} Outreach prospects have the email {email}",
                    tuple(sorted(by_email, key=_id_order)),
                )
            return None
        chosen = [prospect for prospect in prospects if prospect in by_email]
        if len(chosen) == 1:
            return Person(chosen[0], _phone_of(matches, chosen[0]))
        apart = (
            f"the contact's email {email} does not tell them apart"
            if email
            else "the call has no contact email to tell them apart"
        )
        return Parked(
            f"{len(prospects)} Outreach prospects share {number}; {apart}", tuple(prospects)
        )

    def missing_reason(self, call: Call) -> str:
        number = contact_number(call, self._region)
        email = _email(call.contact.email if call.contact else None)
        if number is None and email is None:
            return "the call has no contact number or email to find an Outreach prospect by"
        named = " or ".join(value for value in (number, email) if value)
        return f"no Outreach prospect with {named}"

    def by_phone(self, e164: str) -> list[tuple[str, str]]:
        """(prospect id, phoneNumber id) of every prospect number equal to ``e164``."""
        cached = self._cache.get(PHONE, e164)
        if cached is None:
            matches = [
                [prospect, str(record["id"])]
                for record in self._list("phoneNumbers", "filter[number]", e164)
                if (prospect := related_id(record.get("relationships"), "prospect")) is not None
            ]
            cached = {"matches": matches} if matches else MISSING
            self._cache.put(PHONE, e164, cached)
        return [(str(p), str(n)) for p, n in cached.get("matches", ())]

    def by_email(self, email: str) -> list[str]:
        cached = self._cache.get(EMAIL, email)
        if cached is None:
            found = sorted(
                {str(r["id"]) for r in self._list("prospects", "filter[emails]", email)},
                key=_id_order,
            )
            cached = {"prospects": found} if found else MISSING
            self._cache.put(EMAIL, email, cached)
        return [str(prospect) for prospect in cached.get("prospects", ())]

    def _list(self, path: str, name: str, value: str) -> list[JsonDict]:
        params = [(name, value), ("count", "false"), ("page[size]", str(MAX_PAGE_SIZE))]
        return list(self._client.iter_all(path, params))

    # --- the org's labels ---------------------------------------------------------------------

    def labels(self, call: Call) -> dict[str, str | None] | Parked:
        """The disposition configured for the call's outcome and the configured purpose."""
        links: dict[str, str | None] = {"callDisposition": None, "callPurpose": None}
        disposition = self._settings.dispositions.get(call.outcome)
        wanted = (
            ("callDisposition", disposition, f"disposition {disposition!r} (for {call.outcome})"),
            (
                "callPurpose",
                self._settings.call_purpose,
                f"purpose {self._settings.call_purpose!r}",
            ),
        )
        for kind, name, described in wanted:
            if name is None:
                continue
            links[kind] = self._labels.find(kind, name)
            if links[kind] is None:
                known = ", ".join(_names(self._labels, kind)) or "none"
                return Parked(
                    f"the configured call {described} is not in the Outreach org (it has: {known})"
                )
        return links


def _names(labels: LabelCatalog, kind: str) -> Sequence[str]:
    return [repr(entry.name) for entry in labels.entries(kind) if entry.name]


def _phone_of(matches: list[tuple[str, str]], prospect: str) -> str | None:
    return next((number for owner, number in matches if owner == prospect), None)


def _id_order(ident: str) -> tuple[int, str]:
    return (int(ident), ident) if ident.isdigit() else (0, ident)
