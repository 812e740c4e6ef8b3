"""Resolution against the emulator: who a written call hangs on in Close, and the cache."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Parked, Resolved, WriteOptions, Written
from connectors.emulation import FaultKind, FaultPlan, ScriptedFault
from syncer.errors import TransientError
from syncer.model import Call, Party, PhoneNumber
from tests.connectors.close.harness import CloseHarness, make_harness
from tests.connectors.close.writing import resolved, wired, write

MAIN_LINE = "+12125550999"


def main_line_call(harness: CloseHarness, email: str | None, **contact_ids: str) -> Call:
    call = harness.writable_call(0)
    contact = Party(
        name="Front Desk", email=email, phone=PhoneNumber.parse(MAIN_LINE), ids=contact_ids
    )
    return call.model_copy(update={"contact": contact, "to_number": contact.phone})


def add_main_line(harness: CloseHarness) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two leads; three contacts share the company's main line."""
    first = harness.emulator.add_lead(
        "Main Co",
        [
            {"name": "Ana", "phones": [MAIN_LINE], "emails": ["ana@main.example"]},
            {"name": "Ben", "phones": [MAIN_LINE], "emails": ["ben@main.example"]},
        ],
    )
    second = harness.emulator.add_lead(
        "Main Co (2)", [{"name": "Cy", "phones": [MAIN_LINE], "emails": ["cy@main.example"]}]
    )
    return first, second


# --- resolution -----------------------------------------------------------------------------


def test_resolution_finds_user_lead_and_contact_and_caches_them(engine):
    harness = make_harness()
    call = harness.writable_call(6)
    connector = harness.connector(engine)
    links = resolved(connector, call).links
    contact = harness.emulator.contact(str(links["contact_id"]))
    assert contact is not None and contact["lead_id"] == links["lead_id"]
    assert call.contact and call.contact.phone
    assert [p["phone"] for p in contact["phones"]] == [call.contact.phone.e164]
    harness.emulator.stats.reset()
    again = harness.connector(engine)  # a new run: the cache is callsync's database
    assert resolved(again, call).links == links
    assert harness.emulator.stats.total == 0


def test_a_missing_person_is_parked_with_the_number(engine):
    harness = make_harness()
    call = harness.unresolvable_call(1)
    connector = harness.connector(engine)
    parked = connector.resolve(call, WriteOptions())
    assert isinstance(parked, Parked)
    assert call.contact and call.contact.phone
    assert parked.reason.startswith(f"no Close person with {call.contact.phone.e164}")
    harness.emulator.stats.reset()
    assert isinstance(harness.connector(engine).resolve(call, WriteOptions()), Parked)
    assert harness.emulator.stats.total == 0  # the miss is cached for a while
    harness.make_resolvable(call)
    assert isinstance(harness.connector(engine).resolve(call, WriteOptions()), Resolved)


def test_a_missing_user_is_parked(engine):
    harness = make_harness()
    call = harness.writable_call(0)
    assert call.user
    stranger = call.user.model_copy(update={"email": "nobody@callsync-demo.test"})
    parked = harness.connector(engine).resolve(
        call.model_copy(update={"user": stranger}), WriteOptions()
    )
    assert parked == Parked("no Close user with e-mail nobody@callsync-demo.test")


def test_a_person_found_by_email_only(engine):
    harness = make_harness()
    call = harness.writable_call(7)
    assert call.contact
    moved = call.contact.model_copy(update={"phone": PhoneNumber.parse("+16285559876")})
    call = call.model_copy(update={"contact": moved, "to_number": moved.phone})
    links = resolved(harness.connector(engine), call).links
    contact = harness.emulator.contact(str(links["contact_id"]))
    assert contact is not None and contact["emails"][0]["email"] == moved.email


def test_a_main_line_is_decided_by_the_contacts_email(engine):
    harness = make_harness()
    first, _ = add_main_line(harness)
    connector = harness.connector(engine)
    links = resolved(connector, main_line_call(harness, "BEN@main.example")).links
    assert links["contact_id"] == first["contacts"][1]["id"]
    assert links["lead_id"] == first["id"]


def test_a_main_line_is_decided_by_a_known_close_lead(engine):
    harness = make_harness()
    _, second = add_main_line(harness)
    call = main_line_call(harness, "front@main.example", **{"close:lead": second["id"]})
    links = resolved(harness.connector(engine), call).links
    assert links["contact_id"] == second["contacts"][0]["id"]


def test_a_main_line_nothing_decides_is_parked_with_candidates(engine):
    harness = make_harness()
    first, second = add_main_line(harness)
    connector = harness.connector(engine)
    parked = connector.resolve(main_line_call(harness, "front@main.example"), WriteOptions())
    assert isinstance(parked, Parked)
    assert MAIN_LINE in parked.reason
    expected = {c["id"] for c in first["contacts"]} | {second["contacts"][0]["id"]}
    assert set(parked.candidates) == expected
    # Narrowing to one lead that still has two contacts decides nothing either.
    call = main_line_call(harness, None, **{"close:lead": first["id"]})
    parked = connector.resolve(call, WriteOptions())
    assert isinstance(parked, Parked)
    assert set(parked.candidates) == expected


def test_create_missing_contacts_adds_one_lead_once(engine):
    harness = make_harness()
    call = harness.unresolvable_call(2)
    connector, recorder = wired(harness, engine)
    links = resolved(connector, call, create_missing_contacts=True).links
    [lead_body] = [b for m, p, b in recorder.sent if m == "POST" and p == "/api/v1/lead/"]
    assert call.contact and call.contact.phone
    assert lead_body == {
        "name": call.contact.name,
        "contacts": [
            {
                "name": call.contact.name,
                "phones": [{"phone": call.contact.phone.e164, "type": "office"}],
                "emails": [{"email": call.contact.email, "type": "office"}],
            }
        ],
    }
    again = harness.connector(engine)
    assert resolved(again, call, create_missing_contacts=True).links == links
    assert sum(1 for m, p, _ in recorder.sent if p == "/api/v1/lead/") == 1
    assert isinstance(write(again, call), Written)


def test_a_lost_answer_to_the_lead_create_is_not_repeated_blindly(engine):
    faults = FaultPlan(
        scripted=[ScriptedFault(FaultKind.DROP_AFTER_COMMIT, method="POST", path=r"/lead/$")]
    )
    harness = make_harness(faults=faults)
    call = harness.unresolvable_call(3)
    with pytest.raises(TransientError):
        harness.connector(engine).resolve(call, WriteOptions(create_missing_contacts=True))
    connector, recorder = wired(harness, engine)
    assert isinstance(connector.resolve(call, WriteOptions(create_missing_contacts=True)), Resolved)
    assert not [p for m, p, _ in recorder.sent if p == "/api/v1/lead/"]  # found, not re-created


def test_the_miss_cache_expires_on_the_connection_clock(engine):
    harness = make_harness()
    call = harness.unresolvable_call(4)
    connector = harness.connector(engine)
    assert isinstance(connector.resolve(call, WriteOptions()), Parked)
    harness.emulator.stats.reset()
    harness.clock.advance(harness.settings.identity_miss_seconds + 1)
    assert isinstance(connector.resolve(call, WriteOptions()), Parked)
    assert harness.emulator.stats.total >= 1  # looked up again


def test_a_candidate_a_person_chose_decides_a_main_line(engine):
    """``callsync review`` hands a chosen candidate in as ``contact.ids["close"]``: it wins over
    what would otherwise narrow the choice (here the e-mail points at another contact)."""
    harness = make_harness()
    add_main_line(harness)
    connector = harness.connector(engine)
    parked = connector.resolve(main_line_call(harness, "front@main.example"), WriteOptions())
    assert isinstance(parked, Parked)
    for chosen in parked.candidates:
        call = main_line_call(harness, "BEN@main.example", close=chosen)
        assert resolved(connector, call).links["contact_id"] == chosen
    assert connector.takes_chosen_person
