"""Leads, contacts, users, outcomes and the look-ups a connector needs to link a call to a lead.

How Close finds a lead/contact by phone or e-mail (researched; emulated subset):
- **Advanced Filtering API** ``POST /api/v1/data/search/`` (the documented way today): a JSON query
  tree. Emulated node types: ``and``, ``or``, ``object_type`` (``lead``/``contact``),
  ``has_related`` (lead -> contact, contact -> contact_phone/contact_email) and ``field_condition``
  with a ``text`` condition on ``contact_phone.phone`` or ``contact_email.email``. Modes
  ``exact_value``, ``full_words`` and ``phrase`` all match the whole normalised value (phones
  compared in E.164, e-mails case-insensitively). Response ``{"data": [{"__object_type", "id",
  ...}], "cursor"}``; ``_fields`` is a dict per object type; ``_limit`` and ``cursor`` page.
  Anything else answers 400 naming the unsupported part.
- **Legacy lead search** ``GET /api/v1/lead/?query=phone:"+1..."`` / ``email:"a@b"`` (older docs:
  "the same search query you'd use in the UI's searchbox"; still used by many integrations).
  Only the ``phone:``, ``email:`` and ``email_address:`` keywords are emulated (ANDed).
- ``GET /api/v1/contact/?lead_id=...`` and ``GET /api/v1/lead/{id}/`` (contacts embedded).
Contacts have ``phones: [{phone, phone_formatted, type, country}]`` in E.164 and
``emails: [{email, type, is_unsubscribed}]``; phones sent in national formats are normalised
(org country US), unparseable ones answer 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.emulation import EmuRequest, EmuResponse

from ._events import Change, EventLog, Origin
from ._search import SearchEvaluator, legacy_terms, object_type_of
from ._state import CloseState
from ._support import (
    ORG_ID,
    ORG_NAME,
    bad_request,
    decode_cursor,
    encode_cursor,
    iso,
    json_body,
    make_id,
    normalize_phone,
    not_found,
    offset_paging,
    phone_country,
    pretty_phone,
    project,
    requested_fields,
    validation,
)

LEAD_KEYS = frozenset(
    {"name", "description", "url", "contacts", "status_id", "status", "status_label", "addresses"}
)
CONTACT_KEYS = frozenset({"lead_id", "name", "title", "phones", "emails"})

Params = dict[str, str]  # path parameters of a route


def contact_record(
    contact_id: str,
    lead_id: str,
    name: str,
    phones: list[tuple[str, str]],
    emails: list[tuple[str, str]],
    now: datetime,
    creator: str | None,
) -> dict[str, Any]:
    """A contact as Close serves it; ``phones`` are (E.164, type) pairs."""
    return {
        "id": contact_id,
        "lead_id": lead_id,
        "organization_id": ORG_ID,
        "name": name,
        "display_name": name,
        "title": "",
        "phones": [
            {
                "phone": phone,
                "phone_formatted": pretty_phone(phone),
                "type": kind,
                "country": phone_country(phone),
            }
            for phone, kind in phones
        ],
        "emails": [
            {"email": email, "type": kind, "is_unsubscribed": False} for email, kind in emails
        ],
        "integration_links": [],
        "date_created": iso(now),
        "date_updated": iso(now),
        "created_by": creator,
        "updated_by": creator,
    }


def lead_record(lead_id: str, name: str, now: datetime, creator: str | None) -> dict[str, Any]:
    """A lead as stored (contacts are embedded when served)."""
    return {
        "id": lead_id,
        "name": name,
        "display_name": name,
        "status_id": make_id("stat", "potential"),
        "status_label": "Potential",
        "description": "",
        "url": None,
        "organization_id": ORG_ID,
        "addresses": [],
        "opportunities": [],
        "tasks": [],
        "custom": {},
        "html_url": f"https://app.close.com/lead/{lead_id}/",
        "date_created": iso(now),
        "date_updated": iso(now),
        "created_by": creator,
        "updated_by": creator,
    }


@dataclass(frozen=True)
class PeopleSettings:
    max_limit: int = 100
    max_skip: int = 250_000
    search_max_limit: int = 200  # UNCONFIRMED max page of the Advanced Filtering API


class People:
    """Handlers and admin operations for leads, contacts, users and outcomes."""

    def __init__(self, state: CloseState, events: EventLog, settings: PeopleSettings) -> None:
        self.state = state
        self.events = events
        self.settings = settings

    # --- rendering ----------------------------------------------------------------------------

    def render_lead(self, lead: dict[str, Any]) -> dict[str, Any]:
        contacts = self.state.contacts_of(lead["id"])
        return {**lead, "contacts": contacts, "contact_ids": [c["id"] for c in contacts]}

    # --- writes (API and UI) ------------------------------------------------------------------

    def create_lead(
        self, name: str, contacts: list[dict[str, Any]], origin: Origin, now: datetime
    ) -> dict[str, Any]:
        lead_id = make_id("lead", self.state.next_token("lead"))
        lead = lead_record(lead_id, name, now, origin.caller.user_id)
        self.state.put_lead(lead)
        self.events.record(Change("lead", lead_id, lead_id, "created", now, lead, None, []), origin)
        for contact in contacts:
            self.create_contact(lead_id, contact, origin, now)
        return self.render_lead(lead)

    def create_contact(
        self, lead_id: str, body: dict[str, Any], origin: Origin, now: datetime
    ) -> dict[str, Any]:
        contact_id = make_id("cont", self.state.next_token("cont"))
        phones = [
            (phone["phone"], phone.get("type") or "office") for phone in body.get("phones", [])
        ]
        emails = [
            (email["email"], email.get("type") or "office") for email in body.get("emails", [])
        ]
        contact = contact_record(
            contact_id, lead_id, body.get("name") or "", phones, emails, now, origin.caller.user_id
        )
        contact["title"] = body.get("title") or ""
        self.state.put_contact(contact)
        self.events.record(
            Change("contact", contact_id, lead_id, "created", now, contact, None, []), origin
        )
        return contact

    # --- HTTP: leads --------------------------------------------------------------------------

    def list_leads(self, request: EmuRequest, params: Params) -> EmuResponse:
        limit, skip = offset_paging(request, self.settings.max_limit, self.settings.max_skip)
        fields = requested_fields(request)
        query = request.arg("query")
        if query:
            return self._search_leads(query, limit, skip, fields)
        items, more = self.state.leads.page(limit, after=self._lead_position(skip))
        data = [project(self.render_lead(stored.doc), fields) for stored in items]
        return EmuResponse.json(200, {"data": data, "has_more": more})

    def _lead_position(self, skip: int) -> tuple[Any, int] | None:
        """Keyset position after ``skip`` leads (leads are few: iterating is fine)."""
        if not skip:
            return None
        for seen, stored in enumerate(self.state.leads.scan(), start=1):
            if seen == skip:
                return (stored.seq, stored.seq)
        return (10**18, 10**18)

    def _search_leads(
        self, query: str, limit: int, skip: int, fields: list[str] | None
    ) -> EmuResponse:
        lead_ids: set[str] | None = None
        for term in legacy_terms(query):
            matched = {contact["lead_id"] for contact in self.state.contacts_with_term(term)}
            lead_ids = matched if lead_ids is None else lead_ids & matched
        leads = [lead for lead_id in sorted(lead_ids or ()) if (lead := self.state.lead(lead_id))]
        leads.sort(key=lambda lead: (lead["date_created"], lead["id"]))
        page = leads[skip : skip + limit]
        return EmuResponse.json(
            200,
            {
                "data": [project(self.render_lead(lead), fields) for lead in page],
                "has_more": skip + limit < len(leads),
                "total_results": len(leads),
            },
        )

    def get_lead(self, request: EmuRequest, params: Params) -> EmuResponse:
        lead = self.state.lead(params["lead_id"])
        if lead is None:
            raise not_found()
        return EmuResponse.json(200, project(self.render_lead(lead), requested_fields(request)))

    def post_lead(self, request: EmuRequest, origin: Origin, now: datetime) -> EmuResponse:
        body = json_body(request)
        unknown = [key for key in body if key not in LEAD_KEYS and not key.startswith("custom.")]
        if unknown:
            raise validation(dict.fromkeys(unknown, "Unknown field."))
        contacts = [
            _clean_contact(item, f"contacts.{i}") for i, item in enumerate(_list(body, "contacts"))
        ]
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise validation({"name": "Not a valid string."})
        fallback = contacts[0].get("name") if contacts else None
        lead = self.create_lead(name or fallback or "Untitled", contacts, origin, now)
        return EmuResponse.json(200, lead)

    # --- HTTP: contacts -----------------------------------------------------------------------

    def list_contacts(self, request: EmuRequest, params: Params) -> EmuResponse:
        limit, skip = offset_paging(request, self.settings.max_limit, self.settings.max_skip)
        fields = requested_fields(request)
        lead_id = request.arg("lead_id")
        scan: dict[str, Any] = {"owner": lead_id} if lead_id else {}
        found = [
            stored.doc
            for _, stored in zip(
                range(skip + limit + 1), self.state.contacts.scan(**scan), strict=False
            )
        ]
        page = found[skip : skip + limit]
        return EmuResponse.json(
            200, {"data": [project(c, fields) for c in page], "has_more": len(found) > skip + limit}
        )

    def get_contact(self, request: EmuRequest, params: Params) -> EmuResponse:
        contact = self.state.contact(params["contact_id"])
        if contact is None:
            raise not_found()
        return EmuResponse.json(200, project(contact, requested_fields(request)))

    def post_contact(self, request: EmuRequest, origin: Origin, now: datetime) -> EmuResponse:
        body = json_body(request)
        unknown = [key for key in body if key not in CONTACT_KEYS]
        if unknown:
            raise validation(dict.fromkeys(unknown, "Unknown field."))
        contact = _clean_contact(body, "")
        lead_id = body.get("lead_id")
        if lead_id is None:
            # Close creates a new lead for a contact posted without lead_id.
            lead = self.create_lead(contact.get("name") or "Untitled", [contact], origin, now)
            return EmuResponse.json(200, lead["contacts"][0])
        if not isinstance(lead_id, str) or self.state.lead(lead_id) is None:
            raise validation({"lead_id": "Lead does not exist."})
        return EmuResponse.json(200, self.create_contact(lead_id, contact, origin, now))

    # --- HTTP: users, me, outcomes ------------------------------------------------------------

    def me(self, user_id: str) -> EmuResponse:
        user = self.state.user(user_id) or {}
        return EmuResponse.json(200, {**user, "organizations": [{"id": ORG_ID, "name": ORG_NAME}]})

    def list_users(self, request: EmuRequest, params: Params) -> EmuResponse:
        return self._simple_list(request, [s.doc["user"] for s in self.state.users.scan()])

    def get_user(self, request: EmuRequest, params: Params) -> EmuResponse:
        user = self.state.user(params["user_id"])
        if user is None:
            raise not_found()
        return EmuResponse.json(200, project(user, requested_fields(request)))

    def list_outcomes(self, request: EmuRequest, params: Params) -> EmuResponse:
        return self._simple_list(request, list(self.state.live_outcomes()))

    def get_outcome(self, request: EmuRequest, params: Params) -> EmuResponse:
        outcome = self.state.outcome(params["outcome_id"])
        if outcome is None:
            raise not_found()
        return EmuResponse.json(200, project(outcome, requested_fields(request)))

    def _simple_list(self, request: EmuRequest, records: list[dict[str, Any]]) -> EmuResponse:
        """Small configuration lists (users, outcomes): ``{data, has_more}``, _limit/_skip."""
        limit, skip = offset_paging(request, self.settings.max_limit, self.settings.max_skip)
        fields = requested_fields(request)
        page = records[skip : skip + limit]
        return EmuResponse.json(
            200,
            {"data": [project(r, fields) for r in page], "has_more": skip + limit < len(records)},
        )

    # --- HTTP: advanced filtering -------------------------------------------------------------

    def data_search(self, request: EmuRequest, params: Params) -> EmuResponse:
        body = json_body(request)
        query = body.get("query")
        if not isinstance(query, dict):
            raise validation({"query": "This field is required."})
        kind = object_type_of(query)
        ids = SearchEvaluator(self.state).evaluate(query, kind)
        records = self._search_records(kind, ids)
        limit = body.get("_limit") or 100
        if not isinstance(limit, int) or not 1 <= limit <= self.settings.search_max_limit:
            raise bad_request(f"_limit must be between 1 and {self.settings.search_max_limit}.")
        results_limit = body.get("results_limit")
        if isinstance(results_limit, int):
            records = records[:results_limit]
        start = int(decode_cursor(str(body["cursor"])).get("o", 0)) if body.get("cursor") else 0
        page = records[start : start + limit]
        fields = body.get("_fields")
        wanted = fields.get(kind) if isinstance(fields, dict) else None
        data = [
            {
                "__object_type": kind,
                "id": record["id"],
                **(project(record, wanted) if wanted else {}),
            }
            for record in page
        ]
        more = start + limit < len(records)
        return EmuResponse.json(
            200, {"data": data, "cursor": encode_cursor({"o": start + limit}) if more else None}
        )

    def _search_records(self, kind: str, ids: set[str] | None) -> list[dict[str, Any]]:
        if kind == "contact":
            found = (
                [s.doc for s in self.state.all_contacts()]
                if ids is None
                else [c for i in ids if (c := self.state.contact(i))]
            )
        else:
            found = (
                [self.render_lead(s.doc) for s in self.state.leads.scan()]
                if ids is None
                else [self.render_lead(lead) for i in ids if (lead := self.state.lead(i))]
            )
        found.sort(key=lambda record: (record["date_created"], record["id"]))
        return found


def _clean_contact(item: Any, where: str) -> dict[str, Any]:
    """Validate a posted contact and normalise its phones to E.164 (Close stores E.164)."""
    prefix = f"{where}." if where else ""
    if not isinstance(item, dict):
        raise validation({where or "contact": "Must be an object."})
    for key in ("name", "title"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise validation({f"{prefix}{key}": "Not a valid string."})
    phones = []
    for i, phone in enumerate(_list(item, "phones", prefix)):
        e164 = normalize_phone(str(phone.get("phone", ""))) if isinstance(phone, dict) else None
        if e164 is None:
            raise validation({f"{prefix}phones.{i}.phone": "Invalid phone number."})
        phones.append({"phone": e164, "type": phone.get("type") or "office"})
    emails = []
    for i, email in enumerate(_list(item, "emails", prefix)):
        address = email.get("email") if isinstance(email, dict) else None
        if not isinstance(address, str) or "@" not in address:
            raise validation({f"{prefix}emails.{i}.email": "Enter a valid email address."})
        emails.append({"email": address, "type": email.get("type") or "office"})
    return {
        "name": item.get("name") or "",
        "title": item.get("title") or "",
        "phones": phones,
        "emails": emails,
    }


def _list(body: dict[str, Any], key: str, prefix: str = "") -> list[Any]:
    value = body.get(key) or []
    if not isinstance(value, list):
        raise validation({f"{prefix}{key}": "Must be a list."})
    return value
