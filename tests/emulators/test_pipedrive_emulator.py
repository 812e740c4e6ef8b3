"""The Pipedrive emulator against the documented payloads and quirks (vendor-apis §2).

Rate limits, auth, error shapes and fault injection are in test_pipedrive_limits.py.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.emulation import EmulatorTransport, ManualClock, StateDB, World
from connectors.emulation.server import serve
from connectors.pipedrive.emulator import PipedriveEmulator

BASE = "https://callsync-demo.pipedrive.com"
ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
OUTCOMES = {"connected", "no_answer", "left_message", "left_voicemail", "wrong_number", "busy"}


def world() -> World:
    return World(seed=7, calls=800, users=3, days=2)


@pytest.fixture
def clock() -> ManualClock:
    """Now is after the world's history (it starts 2026-01-05 and spans two days)."""
    return ManualClock(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))


@pytest.fixture
def emu(clock: ManualClock) -> PipedriveEmulator:
    emulator = PipedriveEmulator(clock=clock, burst_limit=10_000, daily_headers_missing_every=0)
    emulator.seed_world(world())
    return emulator


def client_for(emu: PipedriveEmulator, token: str) -> httpx.Client:
    return httpx.Client(
        transport=EmulatorTransport(emu), base_url=BASE, headers={"x-api-token": token}
    )


@pytest.fixture
def admin(emu: PipedriveEmulator) -> httpx.Client:
    return client_for(emu, PipedriveEmulator.DEMO_API_TOKEN)


@pytest.fixture
def rep(emu: PipedriveEmulator) -> httpx.Client:
    """The second world user: not an admin."""
    return client_for(emu, emu.api_token_for(emu.user_ids()[1]))


def all_logs(client: httpx.Client, page: int = 50) -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = []
    start = 0
    while True:
        body = client.get("/v1/callLogs", params={"start": start, "limit": page}).json()
        logs.extend(body["data"] or [])
        pagination = body["additional_data"]["pagination"]
        if not pagination["more_items_in_collection"]:
            assert "next_start" not in pagination
            return logs
        start = pagination["next_start"]


def all_activities(client: httpx.Client, **params: str | int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v2/activities", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["data"])
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return found


def a_person(emu: PipedriveEmulator) -> dict[str, Any]:
    return next(stored.doc for stored in emu.store.persons.scan())


def documented_create_body(emu: PipedriveEmulator, **overrides: object) -> dict[str, Any]:
    """The create request of vendor-apis §2.12, with ids that exist in this company."""
    person = a_person(emu)
    deal = next(stored.doc for stored in emu.store.deals.scan())
    body = {
        "user_id": emu.user_ids()[0],
        "subject": "Outbound call to Jane Doe",
        "duration": "83",
        "outcome": "connected",
        "from_phone_number": "+16505556666",
        "to_phone_number": "+16503334444",
        "start_time": "2024-03-20 14:05:00",
        "end_time": "2024-03-20 14:06:23",
        "person_id": person["id"],
        "org_id": person["org_id"],
        "deal_id": deal["id"],
        "note": "<p>Synced from Close (acti_Ay0Qq...)</p>",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


# --- call logs: list -------------------------------------------------------------------------


def test_list_matches_the_documented_envelope_and_field_types(admin: httpx.Client) -> None:
    response = admin.get("/api/v1/callLogs", params={"start": 0, "limit": 50})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 50,
        "more_items_in_collection": True,
        "next_start": 50,
    }
    for log in body["data"]:
        assert re.fullmatch(r"[0-9a-f]{32}", log["id"])
        assert isinstance(log["duration"], str)
        assert int(log["duration"]) >= 0
        assert ISO_MILLIS.match(log["start_time"])
        assert ISO_MILLIS.match(log["end_time"])
        assert isinstance(log["activity_id"], int)
        assert isinstance(log["company_id"], int)
        assert log["outcome"] in OUTCOMES
        assert isinstance(log["has_recording"], bool)
        assert {"person_id", "org_id", "deal_id"} <= log.keys()  # present, possibly null
        assert "direction" not in log  # Pipedrive has no direction field (§2.5)
        assert "lead_id" not in log or "deal_id" not in log or log["deal_id"] is None


def test_v1_is_served_under_both_prefixes(admin: httpx.Client) -> None:
    legacy = admin.get("/v1/callLogs", params={"limit": 5}).json()
    company = admin.get("/api/v1/callLogs", params={"limit": 5}).json()
    assert legacy == company
    assert len(legacy["data"]) == 5


def test_each_token_lists_only_its_own_users_logs(emu: PipedriveEmulator) -> None:
    seen: dict[int, set[str]] = {}
    for user_id in emu.user_ids():
        logs = all_logs(client_for(emu, emu.api_token_for(user_id)))
        assert {log["user_id"] for log in logs} == {user_id}
        seen[user_id] = {log["id"] for log in logs}
    ids = [log_id for logs in seen.values() for log_id in logs]
    assert len(ids) == len(set(ids)) == sum(1 for _ in world().iter_calls("pipedrive"))


def test_limit_is_capped_at_50_and_paging_covers_every_log_once(admin: httpx.Client) -> None:
    body = admin.get("/v1/callLogs", params={"limit": 200}).json()
    assert body["additional_data"]["pagination"]["limit"] == 50
    assert len(body["data"]) == 50
    by_sevens = [log["id"] for log in all_logs(admin, page=7)]
    by_fifties = [log["id"] for log in all_logs(admin, page=50)]
    assert by_sevens == by_fifties
    assert len(by_sevens) == len(set(by_sevens)) > 50


def test_an_empty_v1_list_answers_data_null(emu: PipedriveEmulator) -> None:
    _, token = emu.add_user("New Rep", "new.rep@callsync-demo.test")
    body = client_for(emu, token).get("/v1/callLogs").json()
    assert body["data"] is None
    assert body["additional_data"]["pagination"]["more_items_in_collection"] is False


def test_offset_paging_skips_an_entry_when_an_earlier_one_is_deleted(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    before = [log["id"] for log in all_logs(admin)]
    first = admin.get("/v1/callLogs", params={"start": 0, "limit": 5}).json()
    assert [log["id"] for log in first["data"]] == before[:5]
    assert admin.delete(f"/v1/callLogs/{before[0]}").status_code == 200
    second = admin.get("/v1/callLogs", params={"start": 5, "limit": 5}).json()
    # Offsets shift: the log that was 6th is now 5th, so a client paging on misses it.
    assert [log["id"] for log in second["data"]] == before[6:11]


def test_integer_links_arrive_null_and_unset_strings_are_left_out(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    logs = [
        log for user in emu.user_ids() for log in all_logs(client_for(emu, emu.api_token_for(user)))
    ]
    assert any(log["person_id"] is None for log in logs)  # contacts missing in Pipedrive
    assert any(log["org_id"] is None for log in logs)
    assert any(log["deal_id"] is None for log in logs)
    assert any(isinstance(log["deal_id"], int) for log in logs)
    assert any("lead_id" in log for log in logs)
    body = {
        "outcome": "no_answer",
        "to_phone_number": "+16503334444",
        "start_time": "2026-01-05 09:00:00",
        "end_time": "2026-01-05 09:00:20",
    }
    created = admin.post("/v1/callLogs", json=body).json()["data"]
    assert created["person_id"] is None
    assert created["org_id"] is None
    assert created["deal_id"] is None
    for unset in ("subject", "duration", "from_phone_number", "lead_id", "note"):
        assert unset not in created


def test_phone_numbers_come_in_the_formats_people_typed(emu: PipedriveEmulator) -> None:
    numbers = {
        log[field]
        for user in emu.user_ids()
        for log in all_logs(client_for(emu, emu.api_token_for(user)))
        for field in ("from_phone_number", "to_phone_number")
    }
    not_e164 = [number for number in numbers if not re.fullmatch(r"\+\d{11}", number)]
    assert len(not_e164) > 10
    assert any(number.startswith("(") for number in not_e164)
    assert any("." in number for number in not_e164)


# --- call logs: create, get, delete, recording ---------------------------------------------


def test_create_with_the_documented_request_wraps_the_log_in_a_call_activity(
    emu: PipedriveEmulator, admin: httpx.Client, clock: ManualClock
) -> None:
    body = documented_create_body(emu)
    response = admin.post("/api/v1/callLogs", json=body)
    assert response.status_code == 200  # Pipedrive answers 200, not 201
    log = response.json()["data"]
    assert response.json()["success"] is True
    assert re.fullmatch(r"[0-9a-f]{32}", log["id"])
    assert log["duration"] == "83"
    assert log["start_time"] == "2024-03-20T14:05:00.000Z"
    assert log["end_time"] == "2024-03-20T14:06:23.000Z"
    assert log["has_recording"] is False
    assert log["company_id"] == admin.get("/v1/users/me").json()["data"]["company_id"]
    for key in ("subject", "outcome", "person_id", "org_id", "deal_id", "note", "user_id"):
        assert log[key] == body[key]
    activity = admin.get(f"/api/v2/activities/{log['activity_id']}").json()["data"]
    assert activity["type"] == "call"
    assert activity["done"] is True
    assert activity["duration"] == "00:01:23"
    assert (activity["due_date"], activity["due_time"]) == ("2024-03-20", "14:05:00")
    assert activity["participants"] == [{"person_id": body["person_id"], "primary": True}]
    assert activity["update_time"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert RFC3339.match(activity["add_time"])
    changed = all_activities(admin, updated_since=activity["update_time"], sort_by="update_time")
    assert activity["id"] in {item["id"] for item in changed}
    assert admin.get(f"/v1/callLogs/{log['id']}").json()["data"] == log


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"outcome": None}, '"outcome" is required.'),
        ({"to_phone_number": None}, '"to_phone_number" is required.'),
        ({"end_time": None}, '"end_time" is required.'),
        ({"outcome": "voicemail"}, '"outcome" must be one of'),
        ({"start_time": "2024-03-20T14:05:00Z"}, '"start_time" must be in format'),
        ({"duration": 83}, '"duration" must be a string'),
        ({"duration": "1m23s"}, '"duration" must be a string'),
        ({"person_id": "333222111"}, '"person_id" must be a number'),
        ({"lead_id": "adf21080-0e10-11eb-879b-05d71fb426ec"}, "either a deal or a lead"),
        ({"deal_id": None, "lead_id": "not-a-uuid"}, '"lead_id" must be a valid UUID'),
        ({"direction": "outbound"}, '"direction" is not allowed'),
        ({"end_time": "2024-03-20 14:04:00"}, '"end_time" must not be before'),
    ],
)
def test_create_rejects_what_pipedrive_rejects(
    emu: PipedriveEmulator, admin: httpx.Client, overrides: dict[str, Any], message: str
) -> None:
    response = admin.post("/v1/callLogs", json=documented_create_body(emu, **overrides))
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert message in body["error"]
    assert body["error_info"] == ERROR_INFO
    assert body["data"] is None
    assert body["additional_data"] is None


def test_the_documented_400_example_is_reproduced_exactly(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    response = admin.post("/v1/callLogs", json=documented_create_body(emu, outcome=None))
    assert response.json() == {
        "success": False,
        "error": '"outcome" is required.',
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }


def test_logging_for_another_user_needs_account_settings_access(
    emu: PipedriveEmulator, admin: httpx.Client, rep: httpx.Client
) -> None:
    admin_id, rep_id = emu.user_ids()[:2]
    denied = rep.post("/v1/callLogs", json=documented_create_body(emu, user_id=admin_id))
    assert denied.status_code == 403
    assert denied.json()["error"] == "You don't have permission to change this resource."
    allowed = admin.post("/v1/callLogs", json=documented_create_body(emu, user_id=rep_id))
    assert allowed.status_code == 200
    log_id = allowed.json()["data"]["id"]
    assert log_id in {log["id"] for log in all_logs(rep)}
    assert log_id not in {log["id"] for log in all_logs(admin)}


def test_links_to_records_that_do_not_exist_are_a_404(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    response = admin.post("/v1/callLogs", json=documented_create_body(emu, person_id=999_999))
    assert response.status_code == 404
    assert response.json()["error"] == "A resource required for this operation was not found."


def test_activity_id_converts_a_call_activity_and_takes_its_links(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    person = a_person(emu)
    created = admin.post(
        "/api/v2/activities",
        json={
            "type": "call",
            "subject": "Planned call",
            "participants": [{"person_id": person["id"], "primary": True}],
        },
    ).json()["data"]
    body = documented_create_body(emu, activity_id=created["id"], subject=None)
    log = admin.post("/v1/callLogs", json=body).json()["data"]
    assert log["activity_id"] == created["id"]
    assert log["person_id"] == person["id"]
    assert log["deal_id"] is None  # the activity's links win over the body's (§2.6)
    activity = admin.get(f"/api/v2/activities/{created['id']}").json()["data"]
    assert activity["done"] is True
    task = admin.post("/api/v2/activities", json={"type": "task"}).json()["data"]
    refused = admin.post("/v1/callLogs", json=documented_create_body(emu, activity_id=task["id"]))
    assert refused.status_code == 400


def test_get_shows_only_the_callers_own_log(
    emu: PipedriveEmulator, admin: httpx.Client, rep: httpx.Client
) -> None:
    log = all_logs(admin)[0]
    assert admin.get(f"/v1/callLogs/{log['id']}").json() == {"success": True, "data": log}
    assert rep.get(f"/v1/callLogs/{log['id']}").status_code == 404
    missing = admin.get("/v1/callLogs/3cde3b05035cae14dcfc172bd8000d08")
    assert missing.status_code == 404
    assert missing.json()["error"] == "A resource required for this operation was not found."


def test_there_is_no_update_endpoint(admin: httpx.Client) -> None:
    log = all_logs(admin)[0]
    for method in ("PUT", "PATCH"):
        response = admin.request(method, f"/v1/callLogs/{log['id']}", json={"outcome": "busy"})
        assert response.status_code in (404, 405)
        assert response.json()["success"] is False


def test_delete_keeps_the_activity_and_a_second_delete_is_gone(
    emu: PipedriveEmulator, admin: httpx.Client, rep: httpx.Client
) -> None:
    log = next(log for log in all_logs(admin) if log["has_recording"])
    assert emu.recording_bytes(log["id"]) is not None
    assert rep.delete(f"/v1/callLogs/{log['id']}").status_code == 403
    response = admin.delete(f"/v1/callLogs/{log['id']}")
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert admin.get(f"/v1/callLogs/{log['id']}").status_code == 404
    again = admin.delete(f"/v1/callLogs/{log['id']}")
    assert again.status_code == 410
    assert again.json()["error"] == "The callLog you are trying to access is no longer available"
    assert emu.recording_bytes(log["id"]) is None  # the recording goes with the log
    activity = admin.get(f"/api/v2/activities/{log['activity_id']}").json()["data"]
    assert activity["is_deleted"] is False  # the activity stays (§2.11i)


def test_recording_upload_stores_the_exact_bytes_once(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    log = next(log for log in all_logs(admin) if not log["has_recording"])
    audio = b"ID3\r\n--boundary\r\n\x00" + os.urandom(4096) + bytes(range(256))
    url = f"/v1/callLogs/{log['id']}/recordings"
    response = admin.post(url, files={"file": ("call.mp3", audio, "audio/mpeg")})
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert emu.recording_bytes(log["id"]) == audio
    assert admin.get(f"/v1/callLogs/{log['id']}").json()["data"]["has_recording"] is True
    second = admin.post(url, files={"file": ("again.mp3", b"other", "audio/mpeg")})
    assert second.status_code == 409
    assert second.json()["error"] == "A recording for this call already exists"
    assert emu.recording_bytes(log["id"]) == audio


def test_recording_upload_needs_a_multipart_file_field(admin: httpx.Client) -> None:
    log = next(log for log in all_logs(admin) if not log["has_recording"])
    url = f"/v1/callLogs/{log['id']}/recordings"
    assert admin.post(url, content=b"raw audio").status_code == 400
    wrong_field = admin.post(url, files={"audio": ("a.mp3", b"x", "audio/mpeg")})
    assert wrong_field.status_code == 400
    assert wrong_field.json()["error"] == '"file" is required.'
    assert admin.post("/v1/callLogs/nope/recordings", files={"file": b"x"}).status_code == 404


# --- activities v2 ---------------------------------------------------------------------------


def test_incremental_cursor_on_update_time_is_inclusive_ordered_and_complete(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    everything = [stored.doc for stored in emu.store.activities.scan()]
    since = sorted(doc["update_time"] for doc in everything)[len(everything) // 2]
    paged = all_activities(admin, updated_since=since, sort_by="update_time", limit=7)
    expected = {doc["id"] for doc in everything if doc["update_time"] >= since}
    assert [item["id"] for item in paged if item["update_time"] == since]  # inclusive bound
    assert len(paged) == len(expected) == len({item["id"] for item in paged})
    assert {item["id"] for item in paged} == expected
    times = [item["update_time"] for item in paged]
    assert times == sorted(times)
    until = all_activities(admin, updated_until=since, sort_by="update_time", limit=500)
    assert all(item["update_time"] < since for item in until)  # exclusive bound
    assert len(until) + len(paged) == len(everything)


def test_timestamps_have_second_precision_with_many_ties(admin: httpx.Client) -> None:
    activities = all_activities(admin, limit=500)
    assert all(RFC3339.match(item["update_time"]) for item in activities)
    ties = Counter(item["update_time"] for item in activities)
    assert ties.most_common(1)[0][1] > 1


def test_lists_mix_activity_types_and_there_is_no_type_filter(admin: httpx.Client) -> None:
    activities = all_activities(admin, type="call", limit=500)  # the filter does not exist
    assert {item["type"] for item in activities} >= {"call", "task"}


def test_activity_types_name_the_call_type(admin: httpx.Client) -> None:
    types = admin.get("/v1/activityTypes").json()["data"]
    assert "call" in {item["key_string"] for item in types}


def test_default_sort_is_id_and_desc_reverses_it(admin: httpx.Client) -> None:
    ascending = [item["id"] for item in all_activities(admin, limit=100)]
    assert ascending == sorted(ascending)
    descending = [item["id"] for item in all_activities(admin, limit=100, sort_direction="desc")]
    assert descending == ascending[::-1]


def test_limit_defaults_to_100_and_may_not_exceed_500(admin: httpx.Client) -> None:
    assert len(admin.get("/api/v2/activities").json()["data"]) == 100
    assert admin.get("/api/v2/activities", params={"limit": 501}).status_code == 400
    total = len(all_activities(admin, limit=500))
    assert total > 100
    assert len(admin.get("/api/v2/activities", params={"limit": 500}).json()["data"]) == total


def test_cursors_are_opaque_but_checked(admin: httpx.Client) -> None:
    page = admin.get("/api/v2/activities", params={"limit": 2}).json()
    cursor = page["additional_data"]["next_cursor"]
    assert admin.get("/api/v2/activities", params={"cursor": "garbage!"}).status_code == 400
    other_sort = {"cursor": cursor, "sort_by": "update_time"}
    assert admin.get("/api/v2/activities", params=other_sort).status_code == 400


def test_attendees_only_when_asked_for(admin: httpx.Client) -> None:
    plain = admin.get("/api/v2/activities", params={"limit": 1}).json()["data"][0]
    assert "attendees" not in plain
    wide = admin.get("/api/v2/activities", params={"limit": 1, "include_fields": "attendees"})
    assert wide.json()["data"][0]["attendees"] == []


def test_patch_bumps_update_time_and_reaches_the_call_log(
    admin: httpx.Client, clock: ManualClock
) -> None:
    log = all_logs(admin)[0]
    clock.advance(3600.4)
    url = f"/api/v2/activities/{log['activity_id']}"
    patched = admin.patch(url, json={"subject": "Renamed", "note": "<p>new</p>", "done": False})
    assert patched.status_code == 200
    data = patched.json()["data"]
    assert data["update_time"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (data["subject"], data["note"], data["done"]) == ("Renamed", "<p>new</p>", False)
    assert data["marked_as_done_time"] is None
    again = admin.get(f"/v1/callLogs/{log['id']}").json()["data"]
    assert (again["subject"], again["note"]) == ("Renamed", "<p>new</p>")
    assert admin.patch(url, json={"person_id": 1}).status_code == 400  # read-only
    assert admin.patch(url, json={"outcome": "busy"}).status_code == 400  # not an activity field


def test_delete_is_soft_listed_with_is_deleted_then_purged_after_30_days(
    admin: httpx.Client, clock: ManualClock
) -> None:
    activity = admin.get("/api/v2/activities", params={"limit": 1}).json()["data"][0]
    clock.advance(60)
    url = f"/api/v2/activities/{activity['id']}"
    response = admin.delete(url)
    assert response.json() == {"success": True, "data": {"id": activity["id"]}}
    deleted_at = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = all_activities(admin, updated_since=deleted_at, sort_by="update_time")
    assert [(item["id"], item["is_deleted"]) for item in changed] == [(activity["id"], True)]
    assert admin.get(url).json()["data"]["is_deleted"] is True
    assert admin.patch(url, json={"subject": "x"}).status_code == 404
    assert admin.delete(url).status_code == 404
    clock.advance(timedelta(days=29).total_seconds())
    assert admin.get(url).status_code == 200
    clock.advance(timedelta(days=2).total_seconds())
    assert admin.get(url).status_code == 404
    assert all(item["id"] != activity["id"] for item in all_activities(admin, limit=500))


def test_admin_edit_and_delete_act_like_the_ui(emu: PipedriveEmulator, clock: ManualClock) -> None:
    log = emu.call_log(next(stored.id for stored in emu.store.call_logs.scan()))
    assert log is not None
    clock.advance(90)
    edited = emu.edit_activity(log["activity_id"], note="<p>from the UI</p>")
    assert edited["update_time"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert emu.call_log(log["id"])["note"] == "<p>from the UI</p>"  # type: ignore[index]
    emu.delete_activity(log["activity_id"])
    assert emu.activity(log["activity_id"])["is_deleted"] is True  # type: ignore[index]


# --- users and persons -----------------------------------------------------------------------


def test_users_me_tells_the_company_domain(emu: PipedriveEmulator, rep: httpx.Client) -> None:
    me = rep.get("/api/v1/users/me").json()["data"]
    assert me["id"] == emu.user_ids()[1]
    assert me["company_domain"] == PipedriveEmulator.DEMO_COMPANY_DOMAIN
    assert isinstance(me["company_id"], int)
    assert me["is_you"] is True
    assert {"timezone_name", "timezone_offset", "email", "access"} <= me.keys()


def test_user_lookup_by_email_and_by_id(emu: PipedriveEmulator, admin: httpx.Client) -> None:
    user = world().user_list[1]
    found = admin.get("/v1/users/find", params={"term": user.email, "search_by_email": 1})
    assert [item["id"] for item in found.json()["data"]] == [emu.user_ids()[1]]
    none = admin.get("/v1/users/find", params={"term": "nobody@x.test", "search_by_email": 1})
    assert none.json()["data"] is None
    assert admin.get("/v1/users/find").status_code == 400
    by_id = admin.get(f"/v1/users/{emu.user_ids()[2]}").json()["data"]
    assert (by_id["email"], by_id["is_you"]) == (world().user_list[2].email, False)
    assert admin.get("/v1/users/1").status_code == 404


def test_person_search_v2_matches_the_documented_shape(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    org = emu.add_org("Pipedrive Inc.")
    person_id = emu.add_person(
        "Jane Doe", phones=["(650) 555-1234"], emails=["jane@pipedrive.com"], org_id=org
    )
    body = admin.get(
        "/api/v2/persons/search", params={"term": "jane@pipedrive.com", "fields": "email"}
    ).json()
    assert body["success"] is True
    assert body["additional_data"] == {"next_cursor": None}
    assert body["data"]["items"] == [
        {
            "result_score": 1.0,
            "item": {
                "id": person_id,
                "type": "person",
                "name": "Jane Doe",
                "phones": ["(650) 555-1234"],
                "emails": ["jane@pipedrive.com"],
                "visible_to": 3,
                "owner": {"id": None},
                "organization": {"id": org, "name": "Pipedrive Inc.", "address": None},
                "custom_fields": [],
                "notes": [],
            },
        }
    ]


def search_ids(client: httpx.Client, **params: str | int) -> list[int]:
    response = client.get("/api/v2/persons/search", params=params)
    assert response.status_code == 200, response.text
    return [item["item"]["id"] for item in response.json()["data"]["items"]]


def test_phone_search_is_format_blind_but_not_country_code_blind(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    national = emu.add_person("Nat Ional", phones=["(650) 555-1234"])
    international = emu.add_person("Inter National", phones=["+1 650-555-1234"])
    assert set(search_ids(admin, term="6505551234", fields="phone")) == {national, international}
    assert search_ids(admin, term="+16505551234", fields="phone") == [international]
    exact = {"fields": "phone", "exact_match": "true"}
    assert search_ids(admin, term="(650) 555-1234", **exact) == [national]
    assert search_ids(admin, term="+16505551234", **exact) == []


def test_person_search_validates_and_pages(emu: PipedriveEmulator, admin: httpx.Client) -> None:
    assert admin.get("/api/v2/persons/search", params={"term": "a"}).status_code == 400
    assert (
        admin.get("/api/v2/persons/search", params={"term": "ab", "fields": "city"}).status_code
        == 400
    )
    for index in range(3):
        emu.add_person(f"Zed Paging{index}", emails=[f"zed{index}@paging.test"])
    first = admin.get("/api/v2/persons/search", params={"term": "paging", "limit": 2}).json()
    assert len(first["data"]["items"]) == 2
    rest = admin.get(
        "/api/v2/persons/search",
        params={"term": "paging", "limit": 2, "cursor": first["additional_data"]["next_cursor"]},
    ).json()
    assert len(rest["data"]["items"]) == 1
    assert rest["additional_data"]["next_cursor"] is None
    v1 = admin.get("/v1/persons/search", params={"term": "paging", "limit": 2}).json()
    assert v1["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 2,
        "more_items_in_collection": True,
        "next_start": 2,
    }


def test_added_and_deleted_persons_show_in_search(
    emu: PipedriveEmulator, admin: httpx.Client
) -> None:
    person_id = emu.add_person("Once Here", emails=["once@here.test"])
    assert search_ids(admin, term="once@here.test", fields="email") == [person_id]
    assert admin.get(f"/api/v2/persons/{person_id}").json()["data"]["name"] == "Once Here"
    emu.delete_person(person_id)
    assert search_ids(admin, term="once@here.test", fields="email") == []
    assert admin.get(f"/api/v2/persons/{person_id}").status_code == 404


# --- seeding and persistence -----------------------------------------------------------------


def test_seeding_speaks_pipedrive_vocabulary(emu: PipedriveEmulator) -> None:
    the_world = world()
    calls = list(the_world.iter_calls("pipedrive"))
    logs = [stored.doc for stored in emu.store.call_logs.scan()]
    assert len(logs) == len(calls)
    assert {log["outcome"] for log in logs} <= OUTCOMES
    assert sum(log["has_recording"] for log in logs) == sum(call.has_recording for call in calls)
    missing = {c.key for c in the_world.contact_list} - {
        c.key for c in the_world.contacts_in("pipedrive")
    }
    to_missing = sum(call.contact.key in missing for call in calls)
    assert sum(log["person_id"] is None for log in logs) == to_missing > 0
    users = {user.key: user for user in the_world.user_list}
    inbound = [call for call in calls if call.direction == "inbound"]
    assert inbound
    inbound_logs = [log for log in logs if log["subject"].startswith("Inbound")]
    assert len(inbound_logs) == len(inbound)
    rep_numbers = {re.sub(r"\D", "", user.phone)[-10:] for user in users.values()}
    assert all(
        re.sub(r"\D", "", log["to_phone_number"])[-10:] in rep_numbers for log in inbound_logs
    )


def test_seeding_twice_is_refused(emu: PipedriveEmulator) -> None:
    with pytest.raises(ValueError, match="already seeded"):
        emu.seed_world(world())


def test_the_demo_token_only_works_after_seeding(clock: ManualClock) -> None:
    emulator = PipedriveEmulator(clock=clock)
    client = client_for(emulator, PipedriveEmulator.DEMO_API_TOKEN)
    assert client.get("/v1/users/me").status_code == 401
    emulator.seed_world(World(seed=3, calls=40, users=2))
    me = client.get("/v1/users/me").json()["data"]
    assert me["access"][-1] == {"app": "account_settings", "admin": True}


def test_state_outlives_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    path = str(tmp_path / "pipedrive.sqlite")
    first = PipedriveEmulator(state=StateDB(path), clock=clock)
    first.seed_world(World(seed=5, calls=120, users=2))
    client = client_for(first, PipedriveEmulator.DEMO_API_TOKEN)
    log = client.post("/v1/callLogs", json=documented_create_body(first)).json()["data"]
    client.post(
        f"/v1/callLogs/{log['id']}/recordings",
        files={"file": ("a.mp3", b"\x00audio\xff", "audio/mpeg")},
    )
    first.state.close()

    second = PipedriveEmulator(state=StateDB(path), clock=clock)
    again = client_for(second, PipedriveEmulator.DEMO_API_TOKEN)
    assert again.get(f"/v1/callLogs/{log['id']}").json()["data"]["has_recording"] is True
    assert second.recording_bytes(log["id"]) == b"\x00audio\xff"
    newer = again.post("/v1/callLogs", json=documented_create_body(second)).json()["data"]
    assert newer["id"] != log["id"]
    assert newer["activity_id"] > log["activity_id"]
    assert len(all_logs(again)) == len(
        all_logs(client_for(second, PipedriveEmulator.DEMO_API_TOKEN))
    )


def test_seeding_writes_in_bulk_quickly(clock: ManualClock) -> None:
    import time

    emulator = PipedriveEmulator(clock=clock)
    started = time.perf_counter()
    emulator.seed_world(World(seed=11, calls=4_000, users=5, systems=("pipedrive",)))
    assert emulator.store.call_logs.count() == 4_000
    assert time.perf_counter() - started < 8  # ~0.8 s for 4k calls


# --- loopback --------------------------------------------------------------------------------


def test_loopback_server_serves_lists_and_multipart_uploads(emu: PipedriveEmulator) -> None:
    running = serve(emu)
    try:
        with httpx.Client(
            base_url=running.base_url, headers={"x-api-token": PipedriveEmulator.DEMO_API_TOKEN}
        ) as client:
            logs = all_logs(client)
            assert logs
            target = next(log for log in logs if not log["has_recording"])
            audio = os.urandom(20_000)
            chunks = iter([audio[:7_000], audio[7_000:]])
            boundary = "callsync-test-boundary"
            body = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="r.wav"\r\nContent-Type: audio/wav\r\n\r\n'.encode()
            )
            parts = [body, *chunks, f"\r\n--{boundary}--\r\n".encode()]
            response = client.post(
                f"/api/v1/callLogs/{target['id']}/recordings",
                content=iter(parts),  # sent chunked
                headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            )
            assert response.status_code == 200, response.text
            assert emu.recording_bytes(target["id"]) == audio
            assert "x-ratelimit-remaining" in response.headers
    finally:
        running.stop()
