"""The Outreach emulator's read side against shared/vendor-apis/amplemarket-outreach.md §2:
JSON:API envelopes, keyset pagination, filters, the vendor's data quirks, finding prospects
and users, seeding, a restart on a SQLite file, and a loopback run through ``serve()``."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

import httpx
import pytest

from connectors.emulation import StateDB, World
from connectors.emulation.server import serve
from connectors.outreach.emulator import OutreachEmulator
from tests.emulators.test_outreach_support import (
    BASE,
    MEDIA,
    SINCE,
    Harness,
    all_calls,
    decode_cursor,
    errors_of,
    make,
    query_of,
)

CALL_ATTRIBUTES = {
    "answeredAt", "completedAt", "createdAt", "dialedAt", "direction", "externalVendor", "from",
    "note", "outcome", "recordingUrl", "returnedAt", "sequenceAction", "shouldRecordCall",
    "state", "stateChangedAt", "tags", "to", "uid", "updatedAt", "userCallType",
    "vendorCallId", "voicemailRecordingUrl",
}  # fmt: skip
DOCUMENTED_RELATIONSHIPS = {
    "callDisposition", "callPurpose", "opportunity", "phoneNumber", "prospect", "sequence",
    "sequenceState", "sequenceStep", "task", "user",
}  # fmt: skip
INCREMENTAL = {"filter[updatedAt][gte]": SINCE, "newFilterSyntax": "true", "sort": "updatedAt"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")


@pytest.fixture(scope="module")
def shared() -> Harness:
    """A read-only org for tests that do not change anything (seeded once: fast)."""
    return make(calls=400, disorder_every=0)


# --- envelopes ------------------------------------------------------------------------------


def test_list_envelope_matches_the_documented_example(shared: Harness) -> None:
    response = shared.get("/api/v2/calls", {**INCREMENTAL, "page[size]": "5", "count": "false"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(MEDIA)
    body = response.json()
    assert set(body) == {"data", "links"}  # count=false: no meta
    for record in body["data"]:
        assert record["type"] == "call"
        assert isinstance(record["id"], int)
        assert set(record["attributes"]) == CALL_ATTRIBUTES
        assert set(record["relationships"]) >= DOCUMENTED_RELATIONSHIPS
        for relationship in record["relationships"].values():
            data = relationship["data"]
            assert data is None or (set(data) == {"type", "id"} and isinstance(data["id"], int))
        assert record["links"]["self"] == f"{BASE}/api/v2/calls/{record['id']}"
    assert body["links"]["first"].startswith(f"{BASE}/api/v2/calls?")
    assert "page%5Bafter%5D" not in body["links"]["first"]


def test_get_by_id_and_the_documented_404(shared: Harness) -> None:
    call = all_calls(shared)[0]

    found = shared.get(f"/api/v2/calls/{call['id']}")
    missing = shared.get("/api/v2/calls/1")

    assert found.status_code == 200
    assert found.json()["data"]["attributes"] == call["attributes"]
    assert missing.status_code == 404
    assert errors_of(missing) == [
        {
            "id": "resourceNotFound",
            "title": "Resource Not Found",
            "detail": "Could not find 'call' with ID '1'.",
        }
    ]


def test_calls_cannot_be_patched(shared: Harness) -> None:
    call = all_calls(shared)[0]

    response = shared.http.patch(
        f"/api/v2/calls/{call['id']}", content=b'{"data":{}}', headers=shared.headers
    )

    assert response.status_code == 405
    assert errors_of(response)[0]["id"] == "methodNotAllowed"
    assert shared.emulator.call(call["id"]) == call


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/vnd.api+json; charset=utf-8"]
)
def test_every_request_needs_the_json_api_media_type(
    shared: Harness, content_type: str | None
) -> None:
    headers = {"Authorization": shared.headers["Authorization"]}
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = shared.http.get("/api/v2/calls", headers=headers)

    assert response.status_code == 415
    (error,) = errors_of(response)
    assert error["id"] == "unsupportedMediaType"
    assert "details" in error  # the vendor's 415 example uses the plural
    assert "detail" not in error


# --- pagination -----------------------------------------------------------------------------


def test_a_walk_follows_absolute_next_links_and_sees_every_call_once(shared: Harness) -> None:
    params = {**INCREMENTAL, "page[size]": "7", "count": "false"}

    pages = shared.walk("/api/v2/calls", params)

    seen = [record["id"] for page in pages for record in page["data"]]
    assert len(seen) == len(set(seen))
    assert set(seen) == {c["id"] for c in all_calls(shared)}
    assert all(len(page["data"]) == 7 for page in pages[:-1])
    for page in pages[:-1]:
        link = page["links"]["next"]
        assert link.startswith(f"{BASE}/api/v2/calls?")
        assert set(params.items()) <= set(query_of(link))  # every original parameter
    assert "next" not in pages[-1]["links"]


def test_the_cursor_is_an_opaque_base64_json_keyset(shared: Harness) -> None:
    page = shared.get("/api/v2/calls", {**INCREMENTAL, "page[size]": "3"}).json()

    cursor = decode_cursor(page["links"]["next"])

    last = page["data"][-1]
    assert cursor["sp"] == "updatedAt"
    assert cursor["sv"] == [last["attributes"]["updatedAt"]]
    assert cursor["id"] == last["id"]
    assert cursor["cn"] == "ApiV2::CallsController"


def test_default_page_is_50_and_page_size_is_capped_at_1000(shared: Harness) -> None:
    assert len(shared.get("/api/v2/calls").json()["data"]) == 50
    assert shared.get("/api/v2/calls", {"page[size]": "1000"}).status_code == 200

    too_big = shared.get("/api/v2/calls", {"page[size]": "1001"})

    assert too_big.status_code == 422
    assert errors_of(too_big)[0]["source"] == {"parameter": "page[size]"}


def test_a_cursor_only_works_for_its_own_query(shared: Harness) -> None:
    link = shared.get("/api/v2/calls", {**INCREMENTAL, "page[size]": "3"}).json()["links"]["next"]
    after = dict(query_of(link))["page[after]"]

    other_sort = shared.get("/api/v2/calls", {"sort": "-updatedAt", "page[after]": after})
    garbage = shared.get("/api/v2/calls", {"page[after]": "not-a-cursor"})

    assert other_sort.status_code == 422
    assert garbage.status_code == 422


@pytest.mark.parametrize("parameter", ["page[offset]", "page[limit]", "page[before]"])
def test_offset_and_backward_paging_are_refused(shared: Harness, parameter: str) -> None:
    response = shared.get("/api/v2/calls", {parameter: "10"})

    assert response.status_code == 422
    assert errors_of(response)[0]["source"] == {"parameter": parameter}


def test_pages_come_slightly_out_of_sort_order_yet_no_record_is_skipped() -> None:
    harness = make(calls=400)  # default disorder: one page in four
    params = {**INCREMENTAL, "page[size]": "6"}

    pages = harness.walk("/api/v2/calls", params)

    keys = [[(r["attributes"]["updatedAt"], r["id"]) for r in p["data"]] for p in pages]
    disordered = [page for page in keys if page != sorted(page)]
    assert disordered, "some page must come out of order"
    assert any(page[-1] != max(page) for page in disordered)  # even the last record
    seen = [ident for page in keys for _, ident in page]
    assert sorted(seen) == sorted(c["id"] for c in all_calls(harness))


def test_ties_on_updated_at_are_split_across_pages_without_loss() -> None:
    harness = make(calls=40, disorder_every=0)
    prospect = harness.emulator.add_prospect(first_name="Tie", last_name="Break")
    made = {harness.emulator.add_call(prospect_id=prospect, user_id=1) for _ in range(30)}
    record = harness.emulator.call(min(made))
    assert record is not None
    stamp = record["attributes"]["updatedAt"]

    pages = harness.walk(
        "/api/v2/calls",
        {"filter[updatedAt][gte]": stamp, "newFilterSyntax": "true", "sort": "updatedAt",
         "page[size]": "4"},
    )  # fmt: skip

    seen = [record["id"] for page in pages for record in page["data"]]
    assert sorted(seen) == sorted(made)
    assert len(pages) == 8


# --- filters and sorting --------------------------------------------------------------------


def test_updated_at_filters_are_inclusive_at_second_precision(shared: Harness) -> None:
    calls = all_calls(shared)
    pivot = sorted(c["attributes"]["updatedAt"] for c in calls)[len(calls) // 2]
    expected_gte = {c["id"] for c in calls if c["attributes"]["updatedAt"] >= pivot}
    expected_lte = {c["id"] for c in calls if c["attributes"]["updatedAt"] <= pivot}

    def ids(params: dict[str, str]) -> set[int]:
        pages = shared.walk("/api/v2/calls", {**params, "page[size]": "1000"})
        return {r["id"] for page in pages for r in page["data"]}

    new = {"newFilterSyntax": "true", "sort": "updatedAt"}
    assert ids({**new, "filter[updatedAt][gte]": pivot}) == expected_gte
    assert ids({**new, "filter[updatedAt][lte]": pivot}) == expected_lte
    assert ids({"filter[updatedAt]": f"{pivot}..inf"}) == expected_gte  # legacy range
    assert ids({"filter[updatedAt]": f"neginf..{pivot}"}) == expected_lte
    between = ids({**new, "filter[updatedAt][gte]": pivot, "filter[updatedAt][lte]": pivot})
    assert between == expected_gte & expected_lte


def test_bracket_operators_need_new_filter_syntax(shared: Harness) -> None:
    response = shared.get("/api/v2/calls", {"filter[updatedAt][gte]": SINCE})

    assert response.status_code == 422
    assert errors_of(response)[0]["source"] == {"parameter": "filter[updatedAt][gte]"}


@pytest.mark.parametrize(
    "value", [f"{SINCE},2026-02-01T00:00:00Z", f"{SINCE}..2026-02-01..inf", "last week..inf"]
)
def test_malformed_legacy_ranges_are_refused(shared: Harness, value: str) -> None:
    response = shared.get("/api/v2/calls", {"filter[updatedAt]": value})

    assert response.status_code == 422
    assert errors_of(response)[0]["source"] == {"parameter": "filter[updatedAt]"}


def test_an_id_filter_pages_with_the_same_cursor(shared: Harness) -> None:
    wanted = sorted(c["id"] for c in all_calls(shared))[::9][:10]
    ids = ",".join(str(i) for i in reversed(wanted))

    pages = shared.walk(
        "/api/v2/calls", {"filter[id]": ids, "sort": "-updatedAt", "page[size]": "3"}
    )

    seen = [r["id"] for page in pages for r in page["data"]]
    assert sorted(seen) == wanted
    stamps = [r["attributes"]["updatedAt"] for page in pages for r in page["data"]]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("sort", ["order", "-order"])
def test_paging_through_null_sort_values(shared: Harness, sort: str) -> None:
    pages = shared.walk("/api/v2/callDispositions", {"sort": sort, "page[size]": "1"})

    orders = [r["attributes"]["order"] for page in pages for r in page["data"]]
    assert len(orders) == 9
    assert orders.count(None) == 2
    known = [order for order in orders if order is not None]
    assert known == sorted(known, reverse=sort.startswith("-"))


@pytest.mark.parametrize("operator", ["gt", "lt"])
def test_unconfirmed_strict_operators_are_refused(shared: Harness, operator: str) -> None:
    response = shared.get(
        "/api/v2/calls", {f"filter[updatedAt][{operator}]": SINCE, "newFilterSyntax": "true"}
    )

    assert response.status_code == 422


def test_relationship_filters_use_the_id_only(shared: Harness) -> None:
    calls = all_calls(shared)
    prospect = Counter(
        c["relationships"]["prospect"]["data"]["id"]
        for c in calls
        if c["relationships"]["prospect"]["data"]
    ).most_common(1)[0][0]

    def ids(params: dict[str, str]) -> set[int]:
        return {r["id"] for r in shared.get("/api/v2/calls", params).json()["data"]}

    by_prospect = ids({"filter[prospect][id]": str(prospect), "page[size]": "1000"})
    by_user = ids({"filter[user][id]": "2", "page[size]": "1000", "sort": "-updatedAt"})
    legacy = shared.get("/api/v2/calls", {"filter[prospect]": str(prospect)})

    assert by_prospect == {
        c["id"]
        for c in calls
        if (c["relationships"]["prospect"]["data"] or {}).get("id") == prospect
    }
    assert by_user == {c["id"] for c in calls if c["relationships"]["user"]["data"]["id"] == 2}
    assert legacy.status_code == 422


def test_sort_descending_and_unknown_filters(shared: Harness) -> None:
    data = shared.get("/api/v2/calls", {"sort": "-updatedAt", "page[size]": "20"}).json()["data"]
    stamps = [r["attributes"]["updatedAt"] for r in data]

    assert stamps == sorted(stamps, reverse=True)
    assert shared.get("/api/v2/calls", {"sort": "note"}).status_code == 422
    assert shared.get("/api/v2/calls", {"filter[note]": "x"}).status_code == 422


def test_include_sparse_fieldsets_and_count(shared: Harness) -> None:
    body = shared.get(
        "/api/v2/calls",
        {"include": "callDisposition,prospect", "fields[call]": "outcome,updatedAt,prospect",
         "page[size]": "10", "count": "true"},
    ).json()  # fmt: skip

    assert {r["type"] for r in body["included"]} <= {"callDisposition", "prospect"}
    assert {"callDisposition", "prospect"} <= {r["type"] for r in body["included"]}
    assert all(set(r["attributes"]) == {"outcome", "updatedAt"} for r in body["data"])
    assert all(set(r["relationships"]) == {"prospect"} for r in body["data"])
    assert body["meta"] == {"count": len(all_calls(shared)), "count_truncated": False}


# --- the vendor's data quirks ---------------------------------------------------------------


def test_timestamps_have_second_precision_and_many_ties(shared: Harness) -> None:
    calls = all_calls(shared)
    stamps = [
        value
        for call in calls
        for name, value in call["attributes"].items()
        if name.endswith("At") and value is not None
    ]

    assert all(TIMESTAMP.match(value) for value in stamps)
    ties = Counter(call["attributes"]["updatedAt"] for call in calls)
    assert max(ties.values()) >= 3


def test_integers_that_arrive_null(shared: Harness) -> None:
    calls = all_calls(shared)
    orders = [
        r["attributes"]["order"] for r in shared.get("/api/v2/callDispositions").json()["data"]
    ]

    assert any(c["relationships"]["callDisposition"]["data"] is None for c in calls)
    assert any(c["relationships"]["callPurpose"]["data"] is None for c in calls)
    assert any(c["relationships"]["prospect"]["data"] is None for c in calls)  # unknown number
    assert None in orders
    assert any(isinstance(order, int) for order in orders)


def test_numbers_are_not_all_e164(shared: Harness) -> None:
    e164 = re.compile(r"^\+\d{8,15}$")
    numbers = [c["attributes"]["to"] for c in all_calls(shared)]
    prospects = shared.get("/api/v2/prospects", {"page[size]": "100"}).json()["data"]
    phones = [
        number
        for p in prospects
        for field in ("workPhones", "mobilePhones", "homePhones", "otherPhones", "voipPhones")
        for number in p["attributes"][field]
    ]

    assert any(not e164.match(number) for number in numbers)
    assert any(e164.match(number) for number in numbers)
    assert any(not e164.match(number) for number in phones)


def test_manual_calls_have_null_call_times_and_created_at_is_not_the_call_time(
    shared: Harness,
) -> None:
    calls = [c["attributes"] for c in all_calls(shared)]
    manual = [a for a in calls if a["dialedAt"] is None]
    dialer = [a for a in calls if a["dialedAt"] is not None]

    assert manual
    assert all(a["answeredAt"] is None and a["completedAt"] is None for a in manual)
    assert all(a["userCallType"] is None for a in manual)
    # A dialer call is created when dialed; a manual one when logged, after the call.
    assert all(a["createdAt"] == a["dialedAt"] for a in dialer)


def test_outcomes_are_binary_and_dispositions_carry_the_detail(shared: Harness) -> None:
    calls = [c["attributes"] for c in all_calls(shared)]
    dispositions = shared.get("/api/v2/callDispositions").json()["data"]
    purposes = shared.get("/api/v2/callPurposes").json()["data"]

    assert {a["outcome"] for a in calls} == {"Answered", "Not Answered"}
    # A voicemail pick-up is "Not Answered" yet has answeredAt (data dictionary).
    assert any(a["outcome"] == "Not Answered" and a["answeredAt"] for a in calls)
    names = {d["attributes"]["name"]: d["attributes"]["outcome"] for d in dispositions}
    assert names["No Answer"] == "Not Answered"
    assert names["Meeting Booked"] == "Answered"
    assert {"Answered - Interested", "Left Voicemail", "Busy", "Wrong Number"} <= set(names)
    assert {p["attributes"]["name"] for p in purposes} == {"Prospecting", "Follow-up", "Discovery"}


# --- finding prospects and users ------------------------------------------------------------


def test_a_prospect_is_found_by_email_case_insensitively(shared: Harness) -> None:
    prospect = shared.get("/api/v2/prospects", {"page[size]": "1"}).json()["data"][0]
    email = prospect["attributes"]["emails"][0]

    found = shared.get("/api/v2/prospects", {"filter[emails]": email.upper()}).json()["data"]

    assert [p["id"] for p in found] == [prospect["id"]]
    assert shared.get("/api/v2/prospects", {"filter[emails]": "x@nowhere.test"}).json() == {
        "data": [],
        "links": {"first": f"{BASE}/api/v2/prospects?filter%5Bemails%5D=x%40nowhere.test"},
    }


def test_a_prospect_is_found_by_phone_through_phone_numbers() -> None:
    shared = make(calls=40)
    emulator = shared.emulator
    prospect_id = emulator.add_prospect(
        first_name="Dana", last_name="Okafor", emails=["Dana@Example.com", "d2@example.com"],
        phones={"mobilePhones": ["(415) 555-0123"], "workPhones": ["415.555.0199"]},
    )  # fmt: skip

    by_number = shared.get("/api/v2/phoneNumbers", {"filter[number]": "+14155550123"}).json()
    by_typed_text = shared.get("/api/v2/phoneNumbers", {"filter[number]": "(415) 555-0123"})
    by_second_email = shared.get("/api/v2/prospects", {"filter[emails]": "d2@example.com"})
    phone_array_filter = shared.get("/api/v2/prospects", {"filter[mobilePhones]": "x"})

    (record,) = by_number["data"]
    assert record["attributes"]["rawNumber"] == "(415) 555-0123"
    assert record["attributes"]["phoneType"] == "mobile"
    assert record["relationships"]["prospect"]["data"] == {"type": "prospect", "id": prospect_id}
    assert by_typed_text.json()["data"] == []  # only the normalised E.164 form matches
    assert [p["id"] for p in by_second_email.json()["data"]] == [prospect_id]
    assert phone_array_filter.status_code == 422  # phone arrays are not filterable
    prospect = shared.get(f"/api/v2/prospects/{prospect_id}").json()["data"]
    assert prospect["attributes"]["workPhones"] == ["415.555.0199"]


def test_a_user_is_found_by_email(shared: Harness) -> None:
    user = World().user_list[1]

    found = shared.get("/api/v2/users", {"filter[email]": user.email}).json()["data"]

    assert [u["attributes"]["name"] for u in found] == [user.name]
    assert found[0]["id"] == 2


def test_users_are_listed_by_id_in_one_request_and_paged(shared: Harness) -> None:
    users = World().user_list

    by_ids = shared.get("/api/v2/users", {"filter[id]": "1,2,999", "count": "false"}).json()
    first = shared.get("/api/v2/users", {"page[size]": "1"}).json()
    link = httpx.URL(first["links"]["next"])
    second = shared.get(link.path, dict(link.params)).json()

    assert sorted(u["id"] for u in by_ids["data"]) == [1, 2]  # an unknown id is just absent
    named = {u["id"]: u["attributes"] for u in by_ids["data"]}
    assert named[2]["email"] == users[1].email
    assert {"email", "firstName", "lastName", "name"} <= set(named[1])
    assert [u["id"] for u in first["data"]] == [1]
    assert [u["id"] for u in second["data"]] == [2]


def test_users_need_the_users_read_scope() -> None:
    harness = make(calls=10, token_mint_interval=0)
    code = harness.emulator.issue_authorization_code(1, scope="calls.read")
    granted = harness.token_request(
        grant_type="authorization_code", code=code, redirect_uri=OutreachEmulator.DEMO_REDIRECT_URI
    )
    harness.token = granted.json()["access_token"]

    refused = harness.get("/api/v2/users", {"filter[id]": "1"})

    assert refused.status_code == 403
    assert "'users.read'" in errors_of(refused)[0]["detail"]


# --- seeding, persistence, loopback ---------------------------------------------------------


def test_seeding_is_idempotent() -> None:
    """Seeding twice keeps one copy of each call (its cost is measured by
    ``benchmarks/emulator_cost.py``, not by a timed test)."""
    emulator = OutreachEmulator()
    world = World(calls=5_000)
    expected = sum(1 for _ in world.iter_calls("outreach"))
    emulator.seed_world(world)
    emulator.seed_world(world)
    assert emulator.store.calls.count() == expected


def test_state_on_a_sqlite_file_outlives_the_emulator(tmp_path: object) -> None:
    path = f"{tmp_path}/outreach.sqlite"
    first = make(calls=40, state=StateDB(path))
    old_id = first.emulator.add_call(prospect_id=None, user_id=1)
    first.emulator.state.close()

    again = make(calls=40, seed=False, state=StateDB(path))
    again.token = first.token  # the access token issued before the restart still works
    new_id = again.emulator.add_call(prospect_id=None, user_id=1)

    assert again.get(f"/api/v2/calls/{old_id}").status_code == 200
    assert new_id == old_id + 1
    spent = again.token_request(
        grant_type="refresh_token", refresh_token=OutreachEmulator.DEMO_REFRESH_TOKEN
    )
    assert spent.json()["error"] == "invalid_grant"  # it was spent before the restart
    renewed = again.token_request(grant_type="refresh_token", refresh_token=first.refresh_token)
    assert renewed.status_code in (200, 429)  # alive (429: minted under a minute ago)
    again.emulator.state.close()


def test_the_emulator_over_loopback_http() -> None:
    emulator = OutreachEmulator(disorder_every=0)
    emulator.seed_world(World(calls=60))
    running = serve(emulator)
    try:
        with httpx.Client(base_url=running.base_url, timeout=10) as client:
            token = client.post(
                "/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": emulator.DEMO_REFRESH_TOKEN,
                    "client_id": emulator.DEMO_CLIENT_ID,
                    "client_secret": emulator.DEMO_CLIENT_SECRET,
                },
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": MEDIA}
            first = client.get("/api/v2/calls", params={"page[size]": "5"}, headers=headers)
            second = client.get(first.json()["links"]["next"], headers=headers)
    finally:
        running.stop()

    assert first.status_code == second.status_code == 200
    assert first.json()["links"]["next"].startswith(f"{running.base_url}/api/v2/calls?")
    ids = [r["id"] for r in first.json()["data"] + second.json()["data"]]
    assert ids == sorted(ids)  # default order: id
    assert all(a < b for a, b in pairwise(ids))
