"""The emulated Outreach org: its collections in ``StateDB``, id counters and record builders.

Everything that must survive a restart lives here (records, id counters; OAuth tokens are in
``oauth.py``, in the same database), so an emulator on a SQLite file can be killed and
restarted without losing or reusing an id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from connectors.emulation.state import StateDB
from connectors.outreach.emulator.jsonapi import iso
from connectors.outreach.emulator.listing import Doc, ResourceSpec, ValueLookup
from connectors.outreach.emulator.query import QueryRules

# Distinct first ids per type, so a connector that mixes up a prospect id and a call id
# addresses nothing instead of the wrong record.
ID_START = {
    "user": 1,
    "callDisposition": 1,
    "callPurpose": 1,
    "prospect": 2001,
    "phoneNumber": 70001,
    "call": 900001,
}

# doc §2.4, in the vendor's order. Every attribute is nullable and always present.
CALL_ATTRIBUTES = (
    "answeredAt", "completedAt", "createdAt", "dialedAt", "direction", "externalVendor",
    "from", "note", "outcome", "recordingUrl", "returnedAt", "sequenceAction",
    "shouldRecordCall", "state", "stateChangedAt", "tags", "to", "uid", "updatedAt",
    "userCallType", "vendorCallId", "voicemailRecordingUrl",
)  # fmt: skip
# doc §2.5: writable to-one relationships and the resource type each points to.
CALL_RELATIONSHIPS = {
    name: name
    for name in (
        "callDisposition", "callPurpose", "opportunity", "outboundVoicemail", "phone",
        "phoneNumber", "prospect", "sequence", "sequenceState", "sequenceStep", "task", "user",
    )
}  # fmt: skip
PHONE_FIELDS = {
    "workPhones": "work",
    "mobilePhones": "mobile",
    "homePhones": "home",
    "otherPhones": "other",
    "voipPhones": "voip",
}
TIMESTAMPS = frozenset({"createdAt", "updatedAt"})


def e164(raw: str) -> str | None:
    """How Outreach normalises a prospect's number into ``phoneNumber.number`` (e.g.
    "+18889387356"); None when the text cannot be a number. North American numbers without a
    country code get +1, as for a US org (a full libphonenumber parse costs 100 us a number,
    too slow for seeding 100k records; every seeded number is North American)."""
    digits = "".join(char for char in raw if char.isdigit())
    if raw.strip().startswith("+"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    return None


def make_doc(ident: int, created: str, updated: str, attributes: Doc, rels: Doc) -> Doc:
    attributes = {**attributes, "createdAt": created, "updatedAt": updated}
    return {"id": ident, "createdAt": created, "updatedAt": updated,
            "attributes": attributes, "rels": rels}  # fmt: skip


class OutreachStore:
    def __init__(self, state: StateDB, *, page_size: int, max_page_size: int) -> None:
        self.state = state
        self.calls = state.collection("outreach.calls", ("updatedAt", "createdAt"))
        # A prospect's first email is indexed on the prospect itself; any others get a row in
        # prospect_emails (one write less per prospect when seeding).
        self.prospects = state.collection("outreach.prospects", ("updatedAt", "createdAt", "email"))
        self.prospect_emails = state.collection("outreach.prospectEmails", ("email",))
        self.phone_numbers = state.collection(
            "outreach.phoneNumbers", ("updatedAt", "createdAt", "number")
        )
        self.users = state.collection("outreach.users", ("updatedAt", "createdAt", "email"))
        self.dispositions = state.collection(
            "outreach.callDispositions", ("updatedAt", "createdAt", "order")
        )
        self.purposes = state.collection(
            "outreach.callPurposes", ("updatedAt", "createdAt", "order")
        )
        self.specs = self._specs(page_size, max_page_size)
        self._bulk: dict[str, int] | None = None

    # --- ids --------------------------------------------------------------------------------

    def allocate(self, kind: str) -> int:
        """A fresh id of ``kind`` (the counter is persisted, so ids are never reused)."""
        with self.state.lock:
            if self._bulk is not None:
                ident = self._bulk.get(kind) or self.next_free(kind)
                self._bulk[kind] = ident + 1
                return ident
            ident = self.next_free(kind)
            self.set_next_free(kind, ident + 1)
        return ident

    @contextmanager
    def bulk_ids(self) -> Iterator[None]:
        """Within a transaction: ids are counted in memory and the counters written once at
        the end (seeding writes 100k records; two meta queries each would double its cost)."""
        with self.state.transaction():
            self._bulk = {}
            try:
                yield
                for kind, ident in self._bulk.items():
                    self.set_next_free(kind, ident)
            finally:
                self._bulk = None

    def next_free(self, kind: str) -> int:
        return int(self.state.get_meta(f"outreach.nextId.{kind}") or ID_START[kind])

    def set_next_free(self, kind: str, ident: int) -> None:
        self.state.set_meta(f"outreach.nextId.{kind}", str(ident))

    # --- records ----------------------------------------------------------------------------

    def add_user(self, *, first: str, last: str, email: str, phone: str, at: datetime) -> int:
        ident, stamp = self.allocate("user"), iso(at)
        attributes = {
            "email": email, "firstName": first, "lastName": last, "name": f"{first} {last}",
            "phoneNumber": phone, "locked": False, "title": "Account Executive",
        }  # fmt: skip
        doc = make_doc(ident, stamp, stamp, attributes, {})
        self.users.put(ident, {**doc, "email": email.lower()})
        return ident

    def add_disposition(self, name: str, outcome: str, order: int | None, at: datetime) -> int:
        ident, stamp = self.allocate("callDisposition"), iso(at)
        attributes = {"name": name, "order": order, "outcome": outcome}
        doc = make_doc(ident, stamp, stamp, attributes, {"creator": None})
        self.dispositions.put(ident, {**doc, "order": order, "name": name})
        return ident

    def add_purpose(self, name: str, order: int | None, at: datetime) -> int:
        ident, stamp = self.allocate("callPurpose"), iso(at)
        doc = make_doc(ident, stamp, stamp, {"name": name, "order": order}, {"creator": None})
        self.purposes.put(ident, {**doc, "order": order, "name": name})
        return ident

    def add_prospect(
        self,
        *,
        first: str,
        last: str,
        emails: Sequence[str],
        phones: Mapping[str, Sequence[str]],
        company: str | None,
        owner: int | None,
        at: datetime,
    ) -> tuple[int, dict[str, int]]:
        """A prospect, its email index rows and one ``phoneNumber`` per phone it lists;
        returns the prospect id and the phoneNumber id of each number as given."""
        unknown = set(phones) - set(PHONE_FIELDS)
        if unknown:
            raise ValueError(f"unknown phone fields: {sorted(unknown)}")
        ident, stamp = self.allocate("prospect"), iso(at)
        attributes: Doc = {
            "firstName": first, "lastName": last, "name": f"{first} {last}".strip(),
            "emails": list(emails), "company": company, "title": None, "tags": [],
        }  # fmt: skip
        attributes.update({name: list(phones.get(name, ())) for name in PHONE_FIELDS})
        doc = make_doc(ident, stamp, stamp, attributes, {"owner": owner})
        self.prospects.put(ident, {**doc, "email": emails[0].lower() if emails else None})
        for email in emails[1:]:
            self.prospect_emails.put(
                f"{email.lower()}|{ident}", {"email": email.lower(), "prospect": ident}
            )
        numbers = {
            raw: self._add_phone_number(ident, raw, kind, order, stamp)
            for field, kind in PHONE_FIELDS.items()
            for order, raw in enumerate(phones.get(field, ()), start=1)
        }
        return ident, numbers

    def _add_phone_number(self, prospect: int, raw: str, kind: str, order: int, stamp: str) -> int:
        ident, number = self.allocate("phoneNumber"), e164(raw)
        attributes = {
            "countryCode": "US" if number and number.startswith("+1") else None,
            "extension": None, "number": number, "order": order, "phoneType": kind,
            "rawNumber": raw, "status": None, "statusChangedAt": None,
        }  # fmt: skip
        doc = make_doc(ident, stamp, stamp, attributes, {"prospect": prospect})
        self.phone_numbers.put(ident, {**doc, "number": number}, owner=prospect)
        return ident

    def put_call(self, doc: Doc) -> None:
        """Store a call; the owner column holds its prospect so filter[prospect][id] is indexed."""
        self.calls.put(doc["id"], doc, owner=doc["rels"].get("prospect"))

    # --- lookups for value filters -------------------------------------------------------------

    def _lookup_prospects(self, _name: str, values: tuple[str, ...]) -> list[Doc]:
        # Emails match case-insensitively, as under a MySQL *_ci collation (unconfirmed).
        found: list[Doc] = []
        for email in dict.fromkeys(value.strip().lower() for value in values):
            found.extend(s.doc for s in self.prospects.scan(order_by="email", gte=email, lte=email))
            for row in self.prospect_emails.scan(order_by="email", gte=email, lte=email):
                doc = self.prospects.get(row.doc["prospect"])
                if doc is not None:
                    found.append(doc)
        return found

    def _lookup_users(self, _name: str, values: tuple[str, ...]) -> list[Doc]:
        emails = dict.fromkeys(value.strip().lower() for value in values)
        return [s.doc for e in emails for s in self.users.scan(order_by="email", gte=e, lte=e)]

    def _lookup_phone_numbers(self, _name: str, values: tuple[str, ...]) -> list[Doc]:
        # Exact match on the normalised E.164 ``number``: a formatted query finds nothing.
        return [
            stored.doc
            for number in dict.fromkeys(values)
            for stored in self.phone_numbers.scan(order_by="number", gte=number, lte=number)
        ]

    def _named(self, collection_name: str) -> ValueLookup:
        collection = self.dispositions if collection_name == "dispositions" else self.purposes

        def lookup(_name: str, values: tuple[str, ...]) -> list[Doc]:
            # A handful of records per org: a scan is cheaper than another index.
            return [s.doc for s in collection.scan() if s.doc["attributes"]["name"] in values]

        return lookup

    # --- what the read endpoints serve -------------------------------------------------------

    def _specs(self, page_size: int, max_page_size: int) -> dict[str, ResourceSpec]:
        stamps = frozenset({"id", "createdAt", "updatedAt"})

        def rules(
            controller: str, *, sortable: frozenset[str] = stamps, **extra: Any
        ) -> QueryRules:
            return QueryRules(
                controller=f"ApiV2::{controller}Controller",
                sortable=sortable,
                range_filters=TIMESTAMPS,
                default_size=page_size,
                max_size=max_page_size,
                **extra,
            )

        specs = [
            ResourceSpec(
                "call", "calls", self.calls,
                rules("Calls", id_filters=frozenset({"id", "prospect", "user", "callDisposition",
                                                     "callPurpose", "phoneNumber"}),
                      includes=frozenset({"prospect", "user", "callDisposition", "callPurpose",
                                          "phoneNumber"})),
                CALL_RELATIONSHIPS, owner_relationship="prospect",
            ),
            ResourceSpec(
                "prospect", "prospects", self.prospects,
                rules("Prospects", id_filters=frozenset({"id", "owner"}),
                      value_filters=frozenset({"emails"})),
                {"owner": "user", "account": "account"},
                {"calls": ("calls", "prospect"), "phoneNumbers": ("phoneNumbers", "prospect")},
                lookup=self._lookup_prospects,
            ),
            ResourceSpec(
                "phoneNumber", "phoneNumbers", self.phone_numbers,
                rules("PhoneNumbers", id_filters=frozenset({"id", "prospect"}),
                      value_filters=frozenset({"number"})),
                {"prospect": "prospect"}, owner_relationship="prospect",
                lookup=self._lookup_phone_numbers,
            ),
            ResourceSpec(
                "user", "users", self.users,
                rules("Users", sortable=stamps | {"email"}, value_filters=frozenset({"email"})),
                {}, lookup=self._lookup_users,
            ),
            ResourceSpec(
                "callDisposition", "callDispositions", self.dispositions,
                rules("CallDispositions", sortable=stamps | {"order"},
                      value_filters=frozenset({"name"})),
                {"creator": "user"}, {"calls": ("calls", "callDisposition")},
                lookup=self._named("dispositions"), nullable_sorts=frozenset({"order"}),
            ),
            ResourceSpec(
                "callPurpose", "callPurposes", self.purposes,
                rules("CallPurposes", sortable=stamps | {"order"},
                      value_filters=frozenset({"name"})),
                {"creator": "user"}, {"calls": ("calls", "callPurpose")},
                lookup=self._named("purposes"), nullable_sorts=frozenset({"order"}),
            ),
        ]  # fmt: skip
        return {spec.type: spec for spec in specs}
