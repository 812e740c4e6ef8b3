"""Close look-ups by phone and e-mail, rate limits (§1.10) and the vendor shape of injected faults."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from connectors.close.emulator import CloseEmulator
from connectors.emulation import FaultKind, FaultPlan, World

from .test_close_helpers import (
    API,
    GENEROUS,
    all_calls,
    client_for,
    external_call_body,
    first_lead,
    make_emulator,
)

WORLD = World(calls=200, main_line_share=0.3)
RATELIMIT = re.compile(r"^limit=(\d+), remaining=(\d+), reset=(\d+)$")  # the official client's


@pytest.fixture(scope="module")
def seeded() -> CloseEmulator:
    emulator, _ = make_emulator(world=WORLD)
    return emulator


@pytest.fixture
def api(seeded: CloseEmulator) -> Any:
    with client_for(seeded) as client:
        yield client


def contact_query(field: str, value: str, mode: str = "exact_value") -> dict[str, Any]:
    related = "contact_phone" if field == "phone" else "contact_email"
    return {
        "query": {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": "contact"},
                {
                    "type": "has_related",
                    "this_object_type": "contact",
                    "related_object_type": related,
                    "related_query": {
                        "type": "field_condition",
                        "field": {
                            "type": "regular_field",
                            "object_type": related,
                            "field_name": field,
                        },
                        "condition": {"type": "text", "mode": mode, "value": value},
                    },
                },
            ],
        },
        "_fields": {"contact": ["id", "lead_id", "name", "phones"]},
    }


# --- look-ups ----------------------------------------------------------------------------------


@pytest.mark.parametrize("style", [0, 1, 2, 3])
def test_data_search_finds_a_contact_by_phone_in_any_format(
    seeded: CloseEmulator, api: httpx.Client, style: int
) -> None:
    from connectors.emulation.world import format_phone

    contact = next(c for c in WORLD.contacts_in("close") if not c.main_line)
    response = api.post(
        f"{API}/data/search/", json=contact_query("phone", format_phone(contact.phone, style))
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "cursor"}
    assert [hit["id"] for hit in body["data"]] == [seeded.contact_id_for(contact.key)]
    hit = body["data"][0]
    assert hit["__object_type"] == "contact"
    assert hit["phones"][0] == {
        "phone": contact.phone,
        "phone_formatted": format_phone(contact.phone, 1),
        "type": "mobile",
        "country": "US",
    }


def test_data_search_by_email_ignores_case_and_finds_nothing_for_strangers(
    seeded: CloseEmulator, api: httpx.Client
) -> None:
    contact = WORLD.contacts_in("close")[0]
    found = api.post(
        f"{API}/data/search/", json=contact_query("email", contact.email.upper(), "full_words")
    ).json()
    assert [hit["id"] for hit in found["data"]] == [seeded.contact_id_for(contact.key)]
    nobody = api.post(f"{API}/data/search/", json=contact_query("email", "x@nowhere.test"))
    assert nobody.json() == {"data": [], "cursor": None}


def test_a_company_main_line_matches_several_contacts(api: httpx.Client) -> None:
    phones: dict[str, int] = {}
    for contact in WORLD.contacts_in("close"):
        phones[contact.phone] = phones.get(contact.phone, 0) + 1
    shared = next(phone for phone, count in phones.items() if count > 1)
    hits = api.post(f"{API}/data/search/", json=contact_query("phone", shared)).json()["data"]
    assert len(hits) == phones[shared]


def test_data_search_for_leads_through_their_contacts(
    seeded: CloseEmulator, api: httpx.Client
) -> None:
    contact = WORLD.contacts_in("close")[3]
    inner = contact_query("email", contact.email)["query"]
    query = {
        "query": {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": "lead"},
                {
                    "type": "has_related",
                    "this_object_type": "lead",
                    "related_object_type": "contact",
                    "related_query": inner["queries"][1],
                },
            ],
        },
    }
    hits = api.post(f"{API}/data/search/", json=query).json()["data"]
    lead_id = seeded.contact(seeded.contact_id_for(contact.key))["lead_id"]  # type: ignore[index]
    assert hits == [{"__object_type": "lead", "id": lead_id}]


def test_data_search_refuses_what_it_does_not_emulate(api: httpx.Client) -> None:
    negated = contact_query("phone", "+14155550000")
    negated["query"]["queries"][1]["negate"] = True
    assert api.post(f"{API}/data/search/", json=negated).status_code == 400
    no_type = {"query": {"type": "and", "queries": []}}
    assert api.post(f"{API}/data/search/", json=no_type).status_code == 400


def test_data_search_pages_with_a_cursor(api: httpx.Client) -> None:
    body = {"query": {"type": "object_type", "object_type": "contact"}, "_limit": 10}
    seen: list[str] = []
    while True:
        page = api.post(f"{API}/data/search/", json=body).json()
        seen.extend(hit["id"] for hit in page["data"])
        if page["cursor"] is None:
            break
        body["cursor"] = page["cursor"]
    assert len(seen) == len(set(seen)) == len(WORLD.contacts_in("close"))


def test_legacy_lead_query_by_phone_and_email(seeded: CloseEmulator, api: httpx.Client) -> None:
    contact = WORLD.contacts_in("close")[5]
    lead_id = seeded.contact(seeded.contact_id_for(contact.key))["lead_id"]  # type: ignore[index]
    for query in (
        f'phone:"{contact.phone}"',
        f"email:{contact.email}",
        f'email_address:"{contact.email}"',
    ):
        found = api.get(f"{API}/lead/", params={"query": query}).json()
        assert lead_id in [lead["id"] for lead in found["data"]]
        assert found["total_results"] >= 1
    unsupported = api.get(f"{API}/lead/", params={"query": "Acme"})
    assert unsupported.status_code == 400


def test_leads_embed_contacts_and_contacts_list_by_lead(api: httpx.Client) -> None:
    lead = first_lead(api)
    assert {"id", "display_name", "contacts", "status_label"} <= set(lead)
    contacts = api.get(f"{API}/contact/", params={"lead_id": lead["id"]}).json()
    assert set(contacts) == {"data", "has_more"}
    assert [c["id"] for c in contacts["data"]] == [c["id"] for c in lead["contacts"]]
    one = contacts["data"][0]
    assert one["lead_id"] == lead["id"]
    assert set(one["emails"][0]) == {"email", "type", "is_unsubscribed"}
    assert api.get(f"{API}/contact/{one['id']}/").json() == one
    assert api.get(f"{API}/contact/cont_missing/").status_code == 404


def test_posted_contacts_are_stored_in_e164() -> None:
    emulator, _ = make_emulator()
    with client_for(emulator) as api:
        body = {
            "name": "Initech",
            "contacts": [
                {
                    "name": "Peter",
                    "phones": [{"phone": "(415) 555-0134", "type": "office"}],
                    "emails": [{"email": "peter@initech.example"}],
                }
            ],
        }
        lead = api.post(f"{API}/lead/", json=body).json()
        phone = lead["contacts"][0]["phones"][0]
        assert (phone["phone"], phone["phone_formatted"]) == ("+14155550134", "+1 415-555-0134")
        bad = {"name": "X", "contacts": [{"name": "Y", "phones": [{"phone": "12"}]}]}
        assert api.post(f"{API}/lead/", json=bad).status_code == 400
        alone = api.post(
            f"{API}/contact/", json={"name": "Solo", "emails": [{"email": "solo@example.test"}]}
        ).json()
        assert alone["lead_id"].startswith("lead_")  # Close makes a lead for a lone contact
        hits = api.post(f"{API}/data/search/", json=contact_query("phone", "+14155550134"))
        assert [h["id"] for h in hits.json()["data"]] == [lead["contacts"][0]["id"]]


# --- rate limits ---------------------------------------------------------------------------------


def test_every_response_carries_the_ratelimit_header_and_429_after_the_limit() -> None:
    emulator, clock = make_emulator(
        world=World(calls=20), rate_limits={**GENEROUS, "calls_read": 3}
    )
    with client_for(emulator) as api:
        remaining = []
        for _ in range(3):
            response = api.get(f"{API}/activity/call/", params={"_limit": 1})
            assert response.status_code == 200
            match = RATELIMIT.match(response.headers["ratelimit"])
            assert match is not None and match.group(1) == "3"
            remaining.append(int(match.group(2)))
        assert remaining == [2, 1, 0]
        limited = api.get(f"{API}/activity/call/")
        assert limited.status_code == 429
        assert RATELIMIT.match(limited.headers["ratelimit"])
        assert "retry-after" not in limited.headers
        error = limited.json()["error"]
        assert error["rate_limit_type"] == "key" and error["rate_limit"] == 3
        assert error["rate_window"] == 1 and 0 < error["rate_reset"] <= 1
        assert set(error) >= {"message", "rate_endpoint_group"}
        # Other endpoint groups are counted separately.
        assert api.get(f"{API}/event/").status_code == 200
        clock.advance(1)
        assert api.get(f"{API}/activity/call/").status_code == 200


def test_the_org_limit_is_three_times_the_key_limit() -> None:
    emulator, _ = make_emulator(rate_limits={**GENEROUS, "config": 2})
    keys = [f"api_key_{i}" for i in range(4)]
    for key in keys:
        emulator.add_api_key(key)
    statuses: list[int] = []
    for key in keys:
        with client_for(emulator, key) as api:
            statuses.extend(api.get(f"{API}/me/").status_code for _ in range(2))
    assert statuses == [200] * 6 + [429, 429]
    with client_for(emulator, keys[3]) as api:
        limited = api.get(f"{API}/me/")
    assert limited.json()["error"]["rate_limit_type"] == "org"
    assert limited.json()["error"]["rate_limit"] == 6


def test_writes_and_reads_are_different_groups() -> None:
    emulator, _ = make_emulator(world=World(calls=20), rate_limits={**GENEROUS, "calls_write": 1})
    with client_for(emulator) as api:
        lead = first_lead(api)
        assert api.post(f"{API}/activity/call/", json=external_call_body(lead)).status_code == 200
        assert api.post(f"{API}/activity/call/", json=external_call_body(lead)).status_code == 429
        assert api.get(f"{API}/activity/call/").status_code == 200


# --- injected faults in Close's shape --------------------------------------------------------------


def test_injected_faults_answer_like_close() -> None:
    plan = FaultPlan(seed=3)
    emulator, _ = make_emulator(world=World(calls=20), faults=plan)
    plan.script(FaultKind.RATE_LIMIT, method="GET", path="/activity/call/$")
    plan.script(FaultKind.SERVER_ERROR, method="GET", path="/me/$", status=503)
    plan.script(FaultKind.MALFORMED, method="GET", path="/outcome/$")
    with client_for(emulator) as api:
        limited = api.get(f"{API}/activity/call/")
        assert limited.status_code == 429
        assert RATELIMIT.match(limited.headers["ratelimit"])
        assert "rate_reset" in limited.json()["error"]
        unavailable = api.get(f"{API}/me/")
        assert unavailable.status_code == 503 and set(unavailable.json()) == {"error"}
        broken = api.get(f"{API}/outcome/")
        with pytest.raises(json.JSONDecodeError):
            broken.json()


def test_a_lost_response_after_commit_still_created_the_call() -> None:
    plan = FaultPlan()
    emulator, _ = make_emulator(world=World(calls=20), faults=plan)
    with client_for(emulator) as api:
        lead = first_lead(api)
        before = len(all_calls(api))
        plan.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path="/activity/call/$")
        with pytest.raises(httpx.RemoteProtocolError):
            api.post(f"{API}/activity/call/", json=external_call_body(lead))
        assert len(all_calls(api)) == before + 1
    assert emulator.stats.by_route["POST /api/v1/activity/call/"] == 1
