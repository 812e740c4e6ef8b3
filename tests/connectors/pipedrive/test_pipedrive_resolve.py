"""Resolving a call's user, person and deal or lead in Pipedrive, against the emulator."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
from pydantic import SecretStr

from connectors.base import Parked, Resolved, WriteOptions
from connectors.pipedrive.connector import PipedriveConnector
from syncer.model import Party
from tests.connectors.pipedrive.harness import PipedriveHarness, make_harness
from tests.connectors.pipedrive.pulls import requests
from tests.connectors.pipedrive.writes import (
    SEARCH,
    main_line_call,
    person_of,
    ready,
    resolved,
    shared_line,
    with_contact,
)

# --- resolution ----------------------------------------------------------------------------------


def test_a_known_user_and_person_resolve_to_their_ids(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    links = resolved(connector, call).links
    person = person_of(harness, call)
    assert links["user_id"] == harness.user_id
    assert links["person_id"] == person["id"]
    assert links["org_id"] == person["org_id"]
    assert links["deal_id"] is None or links["lead_id"] is None  # never both


def test_lookups_are_cached_between_connectors(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(1)
    resolved(connector, call)
    harness.emulator.stats.reset()
    again = harness.connector(engine).resolve(call, WriteOptions())
    assert isinstance(again, Resolved)
    assert harness.emulator.stats.total == 0  # users, persons, links all from the cache


def test_a_person_typed_in_national_format_is_found_by_e164(engine):
    harness, connector = ready(engine)
    call = harness.unresolvable_call(3)
    harness.emulator.add_person("Typed By Hand", phones=["617.555.0003"], emails=[])
    found = resolved(connector, with_contact(call, email=None))
    assert found.links["person_id"] == person_of_phone(harness, "617.555.0003")


def person_of_phone(harness: PipedriveHarness, typed: str) -> int:
    for stored in harness.emulator.store.persons.scan():
        if typed in [p["value"] for p in stored.doc["phones"]]:
            return int(stored.doc["id"])
    raise AssertionError(typed)


def test_nobody_on_the_number_parks_the_call_naming_the_number(engine):
    harness, connector = ready(engine)
    call = harness.unresolvable_call(1)
    result = connector.resolve(call, WriteOptions())
    assert isinstance(result, Parked)
    assert "no Pipedrive person with +16175550001" in result.reason
    assert result.candidates == ()


def test_a_parked_call_resolves_once_the_person_exists(engine):
    harness, connector = ready(engine)
    call = harness.unresolvable_call(2)
    assert isinstance(connector.resolve(call, WriteOptions()), Parked)
    harness.emulator.stats.reset()
    assert isinstance(connector.resolve(call, WriteOptions()), Parked)
    assert requests(harness).get(SEARCH) is None  # the miss is cached
    harness.make_resolvable(call)
    assert isinstance(connector.resolve(call, WriteOptions()), Resolved)


def test_an_unknown_user_parks_the_call(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    call = call.model_copy(update={"user": Party(email="ghost@nowhere.example")})
    result = connector.resolve(call, WriteOptions())
    assert result == Parked("no Pipedrive user with email ghost@nowhere.example")


def test_another_users_call_needs_an_admin_token(engine):
    harness, admin = ready(engine, users=2)
    _, rep_id = harness.emulator.user_ids()
    rep = harness.emulator.store.user(rep_id)
    assert rep is not None
    call = harness.writable_call(0)  # the admin's own call
    rep_call = call.model_copy(update={"user": Party(email=rep["email"])})
    assert resolved(admin, rep_call).links["user_id"] == rep_id  # an admin logs for anyone
    token = SecretStr(harness.emulator.api_token_for(rep_id))
    settings = harness.connection_settings().model_copy(update={"api_token": token})
    as_rep = PipedriveConnector(replace(harness.context(engine), settings=settings))
    assert isinstance(as_rep.resolve(rep_call, WriteOptions()), Resolved)
    assert call.user is not None
    assert as_rep.resolve(call, WriteOptions()) == Parked(
        f"logging calls for {call.user.email} needs an admin API token on this connection"
    )


def test_several_persons_on_a_main_line_are_decided_by_email(engine):
    harness, connector = ready(engine)
    first, second = shared_line(harness, "(212) 555-0999", "a@desk.example", "b@desk.example")
    found = resolved(connector, main_line_call(harness, "B@desk.example"))
    assert found.links["person_id"] == second != first


def test_still_ambiguous_parks_with_the_candidates(engine):
    harness, connector = ready(engine)
    ids = shared_line(harness, "+1 212-555-0999", "a@desk.example", "b@desk.example")
    result = connector.resolve(main_line_call(harness, "c@elsewhere.example"), WriteOptions())
    assert isinstance(result, Parked)
    assert "2 Pipedrive persons share +12125550999" in result.reason
    assert result.candidates == tuple(str(i) for i in ids)


def test_a_main_line_is_decided_by_the_only_person_with_a_deal(engine):
    harness, connector = ready(engine)
    _, second = shared_line(harness, "212.555.0999", "a@desk.example", "b@desk.example")
    deal = harness.emulator.add_deal("Desk deal", person_id=second)
    harness.add_call(person_id=second, deal_id=deal)
    found = resolved(connector, main_line_call(harness, "c@elsewhere.example"))
    assert (found.links["person_id"], found.links["deal_id"]) == (second, deal)


def test_create_missing_contacts_creates_the_person_once(engine):
    PersonCreation.created = []
    harness = make_harness(wrap=PersonCreation.wrapping)
    harness.seed(40)
    connector = harness.connector(engine)
    call = harness.unresolvable_call(5)
    options = WriteOptions(create_missing_contacts=True)
    first = connector.resolve(call, options)
    assert isinstance(first, Resolved)
    assert PersonCreation.created == [first.links["person_id"]]
    again = harness.connector(engine).resolve(call, options)
    assert isinstance(again, Resolved) and again.links == first.links
    assert len(PersonCreation.created) == 1


def test_a_refused_person_creation_parks_the_call(engine):
    harness, connector = ready(engine)  # the emulator has no POST /api/v2/persons: a 404
    result = connector.resolve(harness.unresolvable_call(6), WriteOptions(True))
    assert isinstance(result, Parked)
    assert result.reason.startswith("Pipedrive refused to create a person for +16175550006")


class PersonCreation(httpx.BaseTransport):
    """``POST /api/v2/persons``, which the emulator lacks, done as Pipedrive would."""

    created: list[int] = []

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    @classmethod
    def wrapping(cls, inner: httpx.BaseTransport) -> httpx.BaseTransport:
        return cls(inner)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (request.method, request.url.path) != ("POST", "/api/v2/persons"):
            return self.inner.handle_request(request)
        body = json.loads(request.read())
        emulator = self.inner.emulator  # type: ignore[attr-defined]
        person_id = emulator.add_person(
            body["name"],
            phones=[p["value"] for p in body.get("phones", [])],
            emails=[e["value"] for e in body.get("emails", [])],
            owner_id=body.get("owner_id"),
        )
        self.created.append(person_id)
        data = {"id": person_id, "name": body["name"], "org_id": None}
        return httpx.Response(200, json={"success": True, "data": data}, request=request)
