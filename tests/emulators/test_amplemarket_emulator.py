"""The Amplemarket emulator's read side against the vendor facts (vendor doc §1).

Auth, the GET /calls envelope, newest-first keyset pagination, filters, the documented quirks,
dispositions, users, tasks, and one run over loopback HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest

from connectors.amplemarket.emulator import AmplemarketEmulator
from connectors.amplemarket.emulator.ids import uuid7_ms
from connectors.emulation import EmulatorTransport, ManualClock, World
from connectors.emulation.server import serve
from tests.emulators.test_amplemarket_support import (
    BASE_URL,
    NOW,
    WORLD_CALLS,
    call_body,
    connect,
    error_of,
    scheduled_task,
    seeded,
    seeded_user_ids,
    sweep,
)

# Fields of the official "Example Call Object" (seed 000) and the GET /calls schema.
OFFICIAL_CALL_FIELDS = {
    "id",
    "disposition_id",
    "duration",
    "external",
    "start_date",
    "from",
    "to",
    "notes",
    "transcription",
    "task_id",
    "user_id",
    "human",
    "answered",
    "contact",
    "recording_url",
}
POSTHOG_CALL_FIELDS = {"direction", "disposition_name", "user_email", "transcript"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SECOND_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def world() -> World:
    return World(calls=WORLD_CALLS)


@pytest.fixture
def emulator(clock: ManualClock, world: World) -> AmplemarketEmulator:
    return seeded(clock, world)


@pytest.fixture
def client(emulator: AmplemarketEmulator) -> Iterator[httpx.Client]:
    with connect(emulator) as http:
        yield http


def parse_start(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# --- auth ------------------------------------------------------------------------------------


def test_missing_or_wrong_credentials_fail_with_401_in_the_errors_shape(emulator):
    with httpx.Client(transport=EmulatorTransport(emulator), base_url=BASE_URL) as anonymous:
        missing = anonymous.get("/calls")
        basic = anonymous.get("/calls", headers={"Authorization": "Basic abc"})
    with connect(emulator, key="not-a-key") as wrong:
        invalid = wrong.get("/account-info")
    for response in (missing, basic, invalid):
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthorized"


def test_demo_key_works_only_after_seeding_and_keys_can_be_added_and_revoked(clock, world):
    emu = AmplemarketEmulator(clock=clock)
    with connect(emu) as http:
        assert http.get("/account-info").status_code == 401
        emu.seed_world(world)
        assert http.get("/account-info").status_code == 200
    emu.add_api_key("second-key")
    with connect(emu, key="second-key") as second:
        assert second.get("/account-info").status_code == 200
        emu.revoke_api_key("second-key")
        assert second.get("/account-info").status_code == 401


def test_account_info_is_one_plain_object(client):
    response = client.get("/account-info")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) >= {"id", "name"}


def test_paths_have_no_v1_prefix_and_unknown_routes_answer_404_in_the_errors_shape(client):
    assert client.get("/v1/calls").status_code == 404
    assert error_of(client.get("/api/v1/calls"))["code"] == "not_found"


# --- GET /calls envelope and pagination -------------------------------------------------------


def test_list_envelope_matches_the_documented_example(client):
    response = client.get("/calls")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"calls", "_links"}
    assert body["_links"]["self"] == {"href": "/calls?page[size]=20"}  # official example
    assert len(body["calls"]) == 20  # default page size
    first = body["calls"][0]
    assert set(first) == OFFICIAL_CALL_FIELDS | POSTHOG_CALL_FIELDS
    assert UUID_RE.match(first["id"])
    assert SECOND_RE.match(first["start_date"])
    assert "updated_at" not in first
    assert "created_at" not in first


def test_full_sweep_is_newest_first_complete_and_ends_without_next(client, emulator):
    calls = sweep(client)
    ids = [call["id"] for call in calls]
    assert len(ids) == len(set(ids)) == emulator.store.calls.count()
    assert ids == sorted(ids, reverse=True)
    starts = [parse_start(call["start_date"]) for call in calls]
    assert starts == sorted(starts, reverse=True)
    last = client.get("/calls", params={"page[after]": ids[-2]}).json()
    assert [call["id"] for call in last["calls"]] == [ids[-1]]
    assert "next" not in last["_links"]


def test_ids_are_uuidv7_whose_time_is_the_start_second(client):
    # The doc example: 0198f652-76db… was created at 2025-08-29T14:54:16.283Z (§1.7).
    assert uuid7_ms("0198f652-76db-7000-8000-000000000000") == 1756479256283
    for call in sweep(client):
        created = datetime.fromtimestamp(uuid7_ms(call["id"]) / 1000, tz=UTC)
        assert created.replace(microsecond=0) == parse_start(call["start_date"])


def test_page_size_limits(client):
    assert len(client.get("/calls", params={"page[size]": 100}).json()["calls"]) == 100
    too_big = client.get("/calls", params={"page[size]": 101})
    assert too_big.status_code == 400
    assert error_of(too_big) == {
        "code": "unsupported_value",
        "title": "Unsupported Value",
        "detail": "Page size exceeds 100 limit",
    }
    for bad in ("0", "-1", "abc", "2.5"):
        assert client.get("/calls", params={"page[size]": bad}).status_code == 400


def test_cursors_are_exclusive_and_prev_appears_only_when_newer_items_exist(client):
    first = client.get("/calls", params={"page[size]": 5}).json()
    assert "prev" not in first["_links"]
    first_ids = [call["id"] for call in first["calls"]]
    assert first["_links"]["next"]["href"] == f"/calls?page[size]=5&page[after]={first_ids[-1]}"
    second = client.get(first["_links"]["next"]["href"]).json()
    second_ids = [call["id"] for call in second["calls"]]
    assert first_ids[-1] not in second_ids
    assert second_ids[0] < first_ids[-1]
    assert second["_links"]["prev"]["href"] == f"/calls?page[size]=5&page[before]={second_ids[0]}"
    back = client.get(second["_links"]["prev"]["href"]).json()
    assert [call["id"] for call in back["calls"]] == first_ids
    assert "prev" not in back["_links"]
    assert back["_links"]["next"]["href"] == first["_links"]["next"]["href"]


def test_bad_cursors_are_rejected(client):
    ids = [call["id"] for call in client.get("/calls").json()["calls"]]
    assert client.get("/calls", params={"page[after]": "nope"}).status_code == 400
    both = client.get("/calls", params={"page[after]": ids[0], "page[before]": ids[1]})
    assert both.status_code == 400


def test_keyset_pagination_survives_deleting_the_cursor_record(client, emulator):
    everything = [call["id"] for call in sweep(client)]
    page = client.get("/calls", params={"page[size]": 10}).json()
    emulator.delete_call(page["calls"][-1]["id"])
    rest = sweep(client, page["_links"]["next"]["href"])
    assert [call["id"] for call in rest] == everything[10:]


def test_calls_in_the_same_second_page_one_by_one_without_loss(client, emulator):
    user_id = seeded_user_ids(client)[0]
    tied = {
        emulator.add_call(user_id=user_id, to=f"+1646200{i:04d}", duration=30)["id"]
        for i in range(7)
    }
    assert len({emulator.get_call(call_id)["start_date"] for call_id in tied}) == 1
    seen = [call["id"] for call in sweep(client, "/calls?page[size]=1")[:7]]
    assert set(seen) == tied


# --- filters ---------------------------------------------------------------------------------


def test_user_id_filter_and_next_link_carry_the_filter(client):
    user_id = seeded_user_ids(client)[1]
    page = client.get("/calls", params={"user_id": user_id, "page[size]": 3}).json()
    assert page["_links"]["next"]["href"].startswith(f"/calls?page[size]=3&user_id={user_id}&")
    calls = sweep(client, page["_links"]["self"]["href"])
    assert calls
    assert {call["user_id"] for call in calls} == {user_id}
    everything = sweep(client)
    assert len(calls) == sum(call["user_id"] == user_id for call in everything)


def test_number_filters_match_the_stored_string_exactly(client):
    everything = sweep(client)
    target = next(call for call in everything if call["to"].startswith("+1 "))
    same = [call for call in everything if call["to"] == target["to"]]
    by_to = sweep(client, f"/calls?to={target['to'].replace('+', '%2B').replace(' ', '%20')}")
    assert [call["id"] for call in by_to] == [call["id"] for call in same]
    # The vendor does not normalise numbers: the E.164 spelling of that number finds nothing
    # stored in the "+1 …" style.
    e164 = "+" + re.sub(r"\D", "", target["to"])
    assert all(
        call["to"] == e164 for call in sweep(client, f"/calls?to={e164.replace('+', '%2B')}")
    )
    caller = everything[0]["from"]
    by_from = client.get("/calls", params={"from": caller, "page[size]": 100}).json()["calls"]
    assert by_from
    assert {call["from"] for call in by_from} == {caller}


@pytest.mark.parametrize("page_size", [1, 3, 100])
def test_every_filter_combination_returns_exactly_the_matching_calls(client, page_size):
    everything = sweep(client)
    inbound = next(c for c in everything if c["direction"] == "incoming")
    cases = [
        {"from": inbound["from"]},  # a contact's number: rare, served by the from index
        {"from": inbound["from"], "user_id": inbound["user_id"]},
        {"to": inbound["to"], "from": inbound["from"]},
        {"to": inbound["to"], "user_id": inbound["user_id"]},
        {"user_id": inbound["user_id"], "start_date_to": inbound["start_date"]},
        {"from": "+10000000000"},
    ]
    for params in cases:
        query = urlencode({"page[size]": page_size, **params}, safe="[]:")
        found = [c["id"] for c in sweep(client, f"/calls?{query}")]
        expected = [
            c["id"]
            for c in everything
            if all(
                c[name] == value if name != "start_date_to" else c["start_date"] < value
                for name, value in params.items()
            )
        ]
        assert found == expected, params


def test_deleted_and_edited_calls_stay_consistent_in_every_index(client, emulator):
    everything = sweep(client)
    victim, edited = everything[0], everything[1]
    emulator.delete_call(victim["id"])
    emulator.edit_call(edited["id"], notes="edited")
    for name in ("from", "to", "user_id"):
        for call, present in ((victim, False), (edited, True)):
            query = urlencode({name: call[name]})
            ids = {c["id"] for c in sweep(client, f"/calls?{query}")}
            assert (call["id"] in ids) is present, (name, call["id"])


def test_an_unencoded_plus_in_a_number_filter_arrives_as_a_space(client):
    everything = sweep(client)
    e164 = next(call["to"] for call in everything if re.fullmatch(r"\+\d{11}", call["to"]))
    assert client.get(f"/calls?to={e164}").json()["calls"] == []


def test_next_links_round_trip_number_and_date_filters(client):
    everything = sweep(client)
    caller = next(call["from"] for call in everything if call["from"].startswith("+1 "))
    params = {"from": caller, "start_date_from": "2026-01-01T00:00:00Z", "page[size]": 1}
    page = client.get("/calls", params=params).json()
    href = page["_links"]["next"]["href"]
    assert "from=%2B1%20" in href
    assert "start_date_from=2026-01-01T00:00:00Z" in href
    following = sweep(client, href)
    assert following
    assert {call["from"] for call in following} == {caller}


def test_start_date_bounds_are_exclusive(client):
    everything = sweep(client)
    middle = everything[len(everything) // 2]
    start = parse_start(middle["start_date"])

    def ids_with(**params: str) -> set[str]:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return {call["id"] for call in sweep(client, f"/calls?page[size]=100&{query}")}

    at = middle["start_date"]
    before = (start - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = (start + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert middle["id"] not in ids_with(start_date_from=at)
    assert middle["id"] in ids_with(start_date_from=before)
    assert middle["id"] not in ids_with(start_date_to=at)
    assert middle["id"] in ids_with(start_date_to=after)
    window = ids_with(start_date_from=before, start_date_to=after)
    assert window == {c["id"] for c in everything if c["start_date"] == middle["start_date"]}
    expected = {c["id"] for c in everything if parse_start(c["start_date"]) > start}
    assert ids_with(start_date_from=at) == expected


def test_start_date_accepts_offsets_and_fractions(client):
    everything = sweep(client)
    middle = everything[len(everything) // 2]
    start = parse_start(middle["start_date"])
    half_before = (start - timedelta(milliseconds=500)).isoformat().replace("+00:00", "%2B00:00")
    found = {c["id"] for c in sweep(client, f"/calls?start_date_from={half_before}")}
    assert middle["id"] in found


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-01-05T09:00:00",
        "2026-01-05",
        "2026-01-05T09:00:00 00:00",
    ],
)
def test_invalid_dates_answer_the_documented_400(client, value):
    response = client.get("/calls", params={"start_date_from": value})
    assert response.status_code == 400
    # Verbatim from the GET /calls OpenAPI "Bad request" example.
    assert response.json() == {
        "_errors": [
            {
                "code": "unsupported_value",
                "title": "Unsupported Value",
                "detail": "Invalid date format",
            }
        ],
        "object": "error",
    }


def test_a_window_that_is_empty_returns_no_calls(client):
    params = {"start_date_from": "2026-01-10T00:00:00Z", "start_date_to": "2026-01-09T00:00:00Z"}
    body = client.get("/calls", params=params).json()
    assert body["calls"] == []
    assert "next" not in body["_links"]


# --- quirks kept on purpose ------------------------------------------------------------------


def test_seeded_calls_keep_the_documented_quirks(client):
    calls = sweep(client)
    failed = [c for c in calls if c["duration"] is None]
    assert failed, "failed dials have duration null (official example)"
    assert all(c["answered"] is None for c in failed)
    assert any(c["contact"] is None and c["task_id"] is None for c in calls)
    assert any(
        c["direction"] == "incoming" and c["contact"] and c["task_id"] is None for c in calls
    )
    formats = {re.sub(r"\d", "9", c["to"]) for c in calls}
    assert {"+99999999999", "+9 9999999999"} <= formats
    assert len(formats) >= 4
    external = [c for c in calls if c["external"]]
    assert external
    assert all(c["notes"] is None and c["recording_url"] is None for c in external)
    assert any(c["notes"] for c in calls if not c["external"])
    assert all(c["contact"] is None or set(c["contact"]) == {"id", "name", "email"} for c in calls)


def test_seeding_is_deterministic_and_world_ids_can_be_looked_up(clock, world, emulator):
    twin = AmplemarketEmulator(clock=clock)
    twin.seed_world(world)
    ids = [item.id for item in emulator.store.calls.scan()]
    assert ids == [item.id for item in twin.store.calls.scan()]
    world_call = next(world.iter_calls("amplemarket"))
    stored = emulator.get_call(emulator.call_id_for(world_call))
    assert stored is not None
    assert stored["user_id"] == emulator.user_id_for(world_call.user.key)
    assert stored["start_date"] == world_call.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    contact = world.contacts_in("amplemarket")[0]
    task = emulator.get_task(emulator.task_id_for(world.user_list[0].key, contact.key))
    assert task is not None
    assert task["contact"]["id"] == emulator.contact_id_for(contact.key)


# --- dispositions, users, tasks --------------------------------------------------------------


def test_dispositions_have_both_actions(client):
    body = client.get("/calls/dispositions").json()
    assert set(body) == {"dispositions"}
    for item in body["dispositions"]:
        assert set(item) == {"id", "name", "slug", "action"}
    assert {item["action"] for item in body["dispositions"]} == {"next_stage", "complete"}
    names = {item["name"] for item in body["dispositions"]}
    assert {
        "Interested",
        "No answer",
        "Left voicemail",
        "Not interested",
        "Meeting booked",
        "Wrong number",
    } <= names


def test_users_list_and_email_filter(client, world):
    body = client.get("/users").json()
    assert body["_links"]["self"]["href"] == "/users?page[size]=20"
    assert len(body["users"]) == len(world.user_list)
    user = body["users"][0]
    assert set(user) == {"id", "name", "email", "status", "role", "mailboxes"}
    filtered = client.get("/users", params={"email": user["email"]}).json()["users"]
    assert [u["id"] for u in filtered] == [user["id"]]


def test_tasks_require_user_id(client):
    response = client.get("/tasks")
    assert response.status_code == 400
    assert error_of(response)["code"] == "unsupported_value"


def test_tasks_are_per_user_manual_phone_calls_with_a_contact(client, world):
    user_id = seeded_user_ids(client)[0]
    page = client.get("/tasks", params={"user_id": user_id, "page[size]": 7}).json()
    assert page["_links"]["self"]["href"] == f"/tasks?page[size]=7&user_id={user_id}"
    assert page["_links"]["next"]["href"].startswith(f"/tasks?page[size]=7&user_id={user_id}&")
    tasks = []
    href: str | None = page["_links"]["self"]["href"]
    while href:
        body = client.get(href).json()
        tasks.extend(body["tasks"])
        href = body["_links"].get("next", {}).get("href")
    assert {t["user_id"] for t in tasks} == {user_id}
    phone = [t for t in tasks if t["type"] == "phone_call"]
    assert len(phone) == len(world.contacts_in("amplemarket"))
    assert all(t["status"] == "scheduled" and t["automatic"] is False for t in phone)
    assert set(phone[0]) == {
        "id",
        "automatic",
        "type",
        "status",
        "due_on",
        "finished_on",
        "notes",
        "sequence_key",
        "sequence_name",
        "user_id",
        "user_email",
        "contact",
    }
    assert set(phone[0]["contact"]) == {"id", "name", "email"}
    assert any(t["sequence_key"] for t in phone)
    assert any(t["sequence_key"] is None for t in phone)


def test_task_filters(client):
    users = seeded_user_ids(client)
    owner = next(
        u
        for u in users
        if client.get("/tasks", params={"user_id": u, "type": "email"}).json()["tasks"]
    )
    emails = client.get("/tasks", params={"user_id": owner, "type": "email"}).json()["tasks"]
    assert all(t["type"] == "email" and t["automatic"] is True for t in emails)
    done = client.get("/tasks", params={"user_id": owner, "status": "completed"}).json()["tasks"]
    assert {t["id"] for t in done} == {t["id"] for t in emails}
    manual = client.get("/tasks", params={"user_id": owner, "automatic": "false"}).json()
    assert all(t["automatic"] is False for t in manual["tasks"])
    name = manual["tasks"][0]["contact"]["name"]
    hits = client.get("/tasks", params={"user_id": owner, "keyword": name.lower()}).json()
    assert all(name in t["contact"]["name"] for t in hits["tasks"])
    for bad in ({"status": "open"}, {"automatic": "yes"}, {"contact_local_time_from": "24"}):
        assert client.get("/tasks", params={"user_id": owner, **bad}).status_code == 400
    assert client.get("/tasks", params={"user_id": "nobody"}).json()["tasks"] == []


# --- loopback --------------------------------------------------------------------------------


def test_loopback_server_serves_pages_links_and_recordings(emulator):
    running = serve(emulator, 0)
    try:
        headers = {"Authorization": f"Bearer {emulator.DEMO_API_KEY}"}
        with httpx.Client(base_url=running.base_url, headers=headers, timeout=5) as http:
            first = http.get("/calls", params={"page[size]": 50}).json()
            second = http.get(first["_links"]["next"]["href"])  # relative link, own origin
            assert second.status_code == 200
            recorded = next(c for c in sweep(http) if c["recording_url"])
            with http.stream("GET", f"/calls/{recorded['id']}/recording") as audio:
                assert audio.status_code == 200
                assert audio.headers["content-type"] == "audio/mpeg"
                size = sum(len(chunk) for chunk in audio.iter_bytes())
            assert size == int(audio.headers["content-length"]) > 1000
            assert "retry-after" not in second.headers
    finally:
        running.stop()


def test_post_then_read_back_through_a_fresh_client_on_a_new_clock(clock, world):
    # A separate ManualClock start proves start_date follows the emulator's clock.
    emu = AmplemarketEmulator(clock=ManualClock(datetime(2026, 3, 1, 8, 30, 15, tzinfo=UTC)))
    emu.seed_world(world)
    with connect(emu) as http:
        user_id = seeded_user_ids(http)[0]
        task = scheduled_task(http, user_id)
        created = http.post("/calls", json=call_body(user_id, task["id"])).json()
    assert created["start_date"] == "2026-03-01T08:30:15Z"
