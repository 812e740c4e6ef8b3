"""The Amplemarket emulator's write side, recordings, limits, faults, restarts and UI helpers.

POST /calls (required fields, server-set start_date, 201 body, task side effects), calls being
immutable via the API, recordings (bytes, 404/413, 50 per hour), 500 requests per minute with
no headers, the shared fault framework in Amplemarket's shapes, state that survives a restart,
and the silent edits only a look-back scan can see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.amplemarket.emulator import AmplemarketEmulator
from connectors.amplemarket.emulator.ids import uuid7_ms
from connectors.amplemarket.emulator.records import CREATED_CALL_KEYS
from connectors.emulation import FaultKind, FaultPlan, ManualClock, StateDB, World
from tests.emulators.test_amplemarket_support import (
    NOW,
    WORLD_CALLS,
    call_body,
    connect,
    disposition,
    error_of,
    scheduled_task,
    seeded,
    seeded_user_ids,
    sweep,
)


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


@pytest.fixture
def user_id(client: httpx.Client) -> str:
    return seeded_user_ids(client)[0]


@pytest.fixture
def task(client: httpx.Client, user_id: str) -> dict[str, Any]:
    return scheduled_task(client, user_id)


# --- POST /calls ------------------------------------------------------------------------------


def test_log_call_answers_201_with_the_documented_body(client, clock, user_id, task):
    clock.advance(0.75)  # 12:00:00.750: start_date is truncated to the second
    interested = disposition(client, "interested")
    body = call_body(
        user_id,
        task["id"],
        transcription="Rep: Hi Jane ...",
        recording_url="https://recordings.example.com/call-123.mp3",
        disposition_id=interested["id"],
    )
    response = client.post("/calls", json=body)
    assert response.status_code == 201
    created = response.json()
    assert list(created) == list(CREATED_CALL_KEYS)  # the §1.7 example's keys, in order
    assert created["start_date"] == "2026-02-02T12:00:00Z"
    assert uuid7_ms(created["id"]) == int(NOW.timestamp() * 1000) + 750
    assert created["external"] is True
    assert created["notes"] is None
    assert created["transcription"] == "Rep: Hi Jane ..."
    assert created["disposition_id"] == interested["id"]
    for key in ("from", "to", "duration", "answered", "human", "task_id", "user_id"):
        assert created[key] == body[key]


def test_logged_call_is_listed_first_with_the_contact_of_its_task(client, user_id, task):
    created = client.post("/calls", json=call_body(user_id, task["id"])).json()
    listed = client.get("/calls").json()["calls"][0]
    assert listed["id"] == created["id"]
    assert listed["contact"] == task["contact"]
    assert listed["user_email"] == task["user_email"]
    assert listed["recording_url"] is None


def test_the_server_sets_start_date_and_drops_fields_the_schema_lacks(client, user_id, task):
    body = call_body(
        user_id,
        task["id"],
        start_date="2025-01-01T00:00:00Z",
        notes="mine",
        direction="outgoing",
        contact={"id": "x"},
    )
    created = client.post("/calls", json=body).json()
    assert created["start_date"] == "2026-02-02T12:00:00Z"
    assert created["notes"] is None
    listed = client.get("/calls").json()["calls"][0]
    assert listed["direction"] is None
    assert listed["contact"] == task["contact"]


def test_every_missing_required_field_is_reported_with_a_pointer(client):
    response = client.post("/calls", json={"from": "+14155550100"})
    assert response.status_code == 400
    errors = response.json()["_errors"]
    pointers = [error["source"]["pointer"] for error in errors]
    assert pointers == ["/to", "/duration", "/answered", "/human", "/task_id", "/user_id"]
    assert {error["code"] for error in errors} == {"unsupported_value"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", "184"),
        ("duration", True),
        ("duration", -1),
        ("duration", 1.5),
        ("answered", "yes"),
        ("human", 1),
        ("task_id", "task-1"),
        ("from", ""),
        ("disposition_id", 5),
        ("transcription", ["a"]),
    ],
)
def test_field_types_are_checked(client, user_id, task, field, value):
    response = client.post("/calls", json=call_body(user_id, task["id"], **{field: value}))
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": f"/{field}"}


def test_body_must_be_json_with_a_json_content_type(client, user_id, task):
    raw = json.dumps(call_body(user_id, task["id"]))
    as_text = client.post("/calls", content=raw, headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 400  # not parsed: every required field is missing
    assert len(as_text.json()["_errors"]) == 7
    vendor_type = {"Content-Type": "application/vnd.amp+json"}
    assert client.post("/calls", content=raw, headers=vendor_type).status_code == 201
    broken = client.post("/calls", content=raw[:-3], headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_unknown_references_are_404_not_found(client, user_id, task):
    other_user = seeded_user_ids(client)[1]
    unknown = "0199ba5b-e20c-7dc1-9481-097d1256e75b"
    cases = {
        "/user_id": call_body(unknown, task["id"]),
        "/task_id": call_body(user_id, unknown),
        "/disposition_id": call_body(user_id, task["id"], disposition_id=unknown),
    }
    cases["/task_id (other user's task)"] = call_body(other_user, task["id"])
    for pointer, body in cases.items():
        response = client.post("/calls", json=body)
        assert response.status_code == 404, pointer
        assert error_of(response)["code"] == "not_found"
        assert error_of(response)["source"]["pointer"] == pointer.split(" ")[0]
    assert sweep(client)[0]["start_date"] < "2026-02-02"  # nothing was written


def test_complete_disposition_completes_the_task_and_its_sequence_lead(client, emulator, user_id):
    tasks = client.get("/tasks", params={"user_id": user_id, "type": "phone_call"}).json()
    task = next(t for t in tasks["tasks"] if t["sequence_key"])
    meeting = disposition(client, "meeting_booked")
    assert meeting["action"] == "complete"
    assert emulator.lead_status(task["sequence_key"], task["contact"]["id"]) == "active"
    body = call_body(user_id, task["id"], disposition_id=meeting["id"])
    assert client.post("/calls", json=body).status_code == 201
    after = emulator.get_task(task["id"])
    assert after["status"] == "completed"
    assert after["finished_on"] == "2026-02-02T12:00:00Z"
    assert emulator.lead_status(task["sequence_key"], task["contact"]["id"]) == "completed"
    completed = client.get("/tasks", params={"user_id": user_id, "status": "completed"}).json()
    assert task["id"] in {t["id"] for t in completed["tasks"]}
    # Strict default: no further call can be logged against the completed task.
    again = client.post("/calls", json=call_body(user_id, task["id"]))
    assert again.status_code == 400
    assert error_of(again)["source"] == {"pointer": "/task_id"}


def test_next_stage_disposition_leaves_the_task_scheduled(client, emulator, user_id, task):
    no_answer = disposition(client, "no_answer")
    body = call_body(user_id, task["id"], disposition_id=no_answer["id"])
    assert client.post("/calls", json=body).status_code == 201
    assert client.post("/calls", json=body).status_code == 201  # a retry logs a duplicate
    assert emulator.get_task(task["id"])["status"] == "scheduled"


def test_closed_tasks_can_be_allowed_by_a_tunable(clock, world):
    emu = seeded(clock, world, accept_calls_on_closed_tasks=True)
    with connect(emu) as http:
        user = seeded_user_ids(http)[0]
        task = scheduled_task(http, user)
        done = disposition(http, "wrong_number")
        first = http.post("/calls", json=call_body(user, task["id"], disposition_id=done["id"]))
        assert first.status_code == 201
        assert http.post("/calls", json=call_body(user, task["id"])).status_code == 201


def test_calls_are_immutable_and_undeletable_via_the_api(client, user_id, task):
    created = client.post("/calls", json=call_body(user_id, task["id"])).json()
    assert client.get(f"/calls/{created['id']}").status_code == 404
    assert client.delete(f"/calls/{created['id']}").status_code == 404
    put = client.put("/calls", json=call_body(user_id, task["id"]))
    assert put.status_code == 405
    assert error_of(put)["code"] == "method_not_allowed"
    assert [c["id"] for c in sweep(client)].count(created["id"]) == 1


# --- recordings -------------------------------------------------------------------------------


def _recorded_call(client: httpx.Client) -> dict[str, Any]:
    return next(c for c in sweep(client) if c["recording_url"] and not c["external"])


def test_recording_is_deterministic_mp3_bytes_of_realistic_size(client):
    call = _recorded_call(client)
    response = client.get(f"/calls/{call['id']}/recording")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    audio = response.content
    assert audio.startswith(b"ID3")
    assert audio[10:12] == b"\xff\xfb"  # MPEG-1 Layer III frame sync
    assert abs(len(audio) - call["duration"] * 4000) < 200
    assert client.get(f"/calls/{call['id']}/recording").content == audio


def test_recording_404s_use_the_documented_shape(client, user_id, task):
    unknown = client.get("/calls/0199ba5b-e387-7d61-8ae4-6ad9ce65f07b/recording")
    assert unknown.status_code == 404
    assert unknown.json() == {  # verbatim from the docs (§1.10)
        "_errors": [
            {
                "code": "not_found",
                "title": "Not Found",
                "detail": "Call not found",
                "source": {"pointer": "/id"},
            }
        ],
        "object": "error",
    }
    logged = client.post(
        "/calls",
        json=call_body(user_id, task["id"], recording_url="https://example.com/recording.mp3"),
    ).json()
    external = client.get(f"/calls/{logged['id']}/recording")
    assert external.status_code == 404
    assert error_of(external)["code"] == "not_found"
    unrecorded = next(c for c in sweep(client) if not c["external"] and not c["recording_url"])
    assert client.get(f"/calls/{unrecorded['id']}/recording").status_code == 404


def test_too_big_recording_is_413_content_too_large(clock, world):
    emu = seeded(clock, world, recording_max_bytes=1000)
    with connect(emu) as http:
        response = http.get(f"/calls/{_recorded_call(http)['id']}/recording")
    assert response.status_code == 413
    assert error_of(response) == {
        "code": "content_too_large",
        "title": "Content Too Large",
        "detail": "Recording is too big",
    }


def test_recordings_are_limited_to_50_per_hour_per_key(client, clock):
    path = "/calls/0199ba5b-e387-7d61-8ae4-6ad9ce65f07b/recording"  # 404s count too
    statuses = [client.get(path).status_code for _ in range(50)]
    assert set(statuses) == {404}
    limited = client.get(path)
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limit_exceeded"
    assert client.get("/calls").status_code == 200  # other endpoints keep working
    clock.advance(3599)
    assert client.get(path).status_code == 429
    clock.advance(1)
    assert client.get(path).status_code == 404


# --- rate limits and faults -------------------------------------------------------------------


def test_500_requests_per_minute_then_429_without_any_rate_limit_header(client, clock, emulator):
    statuses = [client.get("/calls/dispositions").status_code for _ in range(500)]
    assert set(statuses) == {200}
    limited = client.get("/calls", params={"page[size]": 1})
    assert limited.status_code == 429
    assert error_of(limited) == {
        "code": "rate_limit_exceeded",
        "title": "Too Many Requests",
        "detail": "Rate limit exceeded",
    }
    assert not [h for h in limited.headers if "rate" in h.lower() or h.lower() == "retry-after"]
    emulator.add_api_key("other-consumer")
    with connect(emulator, key="other-consumer") as other:
        assert other.get("/calls/dispositions").status_code == 200  # limits are per key
    clock.advance(60)
    assert client.get("/calls/dispositions").status_code == 200


def test_successful_responses_carry_no_rate_limit_headers(client):
    headers = client.get("/calls").headers
    assert set(headers) == {"content-type", "content-length"}


def test_injected_faults_use_the_vendor_shapes(client, emulator, user_id, task):
    emulator.faults.script(FaultKind.RATE_LIMIT, path="^/calls$")
    limited = client.get("/calls")
    assert limited.status_code == 429
    assert "retry-after" not in limited.headers
    assert error_of(limited)["code"] == "rate_limit_exceeded"
    emulator.faults.script(FaultKind.SERVER_ERROR, status=500)
    assert error_of(client.get("/calls"))["code"] == "internal_server_error"
    emulator.faults.script(FaultKind.SERVER_ERROR, status=503)
    gateway = client.get("/calls")
    assert gateway.status_code == 503
    assert gateway.headers["content-type"] == "text/html"  # from the load balancer, not JSON
    emulator.faults.script(FaultKind.MALFORMED, path="^/calls$")
    with pytest.raises(json.JSONDecodeError):
        client.get("/calls").json()


def test_a_lost_response_after_commit_leaves_the_call_logged(client, emulator, user_id, task):
    emulator.faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path="^/calls$")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/calls", json=call_body(user_id, task["id"]))
    since = {"start_date_from": "2026-02-02T11:59:59Z", "user_id": user_id}
    found = client.get("/calls", params=since).json()["calls"]
    assert [c["task_id"] for c in found] == [task["id"]]


def test_random_faults_are_deterministic_for_a_seed(clock, world):
    def statuses() -> list[int]:
        emu = AmplemarketEmulator(clock=clock, faults=FaultPlan(seed=3, rate_limit=0.3))
        emu.seed_world(world)
        with connect(emu) as http:
            return [http.get("/calls/dispositions").status_code for _ in range(30)]

    first = statuses()
    assert 429 in first
    assert 200 in first
    assert statuses() == first


# --- state that survives a restart ------------------------------------------------------------


def test_state_in_a_file_outlives_the_emulator(
    tmp_path: Path, clock: ManualClock, world: World
) -> None:
    path = str(tmp_path / "amplemarket.sqlite")
    first = AmplemarketEmulator(state=StateDB(path), clock=clock)
    first.seed_world(world)
    with connect(first) as http:
        user = seeded_user_ids(http)[0]
        task = scheduled_task(http, user)
        done = disposition(http, "not_interested")
        created = http.post("/calls", json=call_body(user, task["id"], disposition_id=done["id"]))
    first.state.close()

    restarted = AmplemarketEmulator(state=StateDB(path), clock=clock)
    with connect(restarted) as http:
        assert http.get("/calls").json()["calls"][0]["id"] == created.json()["id"]
        assert (restarted.get_task(task["id"]) or {}).get("status") == "completed"
        other = scheduled_task(http, user)
        again = http.post("/calls", json=call_body(user, other["id"])).json()
    assert again["id"] != created.json()["id"]  # the id counter was persisted
    restarted.state.close()


# --- what a user does in the UI ---------------------------------------------------------------


def test_edits_are_silent_and_only_a_rescan_sees_them(client, emulator):
    before = client.get("/calls").json()["calls"][3]
    wrong = disposition(client, "wrong_number")
    edited = emulator.edit_call(
        before["id"],
        disposition_id=wrong["id"],
        notes="Edited in UI",
        transcription="Rep: later transcript",
    )
    assert edited["disposition_name"] == "Wrong number"
    after = client.get("/calls").json()["calls"][3]
    assert after["id"] == before["id"]
    assert after["start_date"] == before["start_date"]
    assert after["notes"] == "Edited in UI"
    assert after["transcription"] == "Rep: later transcript"
    assert set(after) == set(before)  # still no updated_at to notice the change by
    with pytest.raises(ValueError, match="not editable"):
        emulator.edit_call(before["id"], duration=5)


def test_deleted_calls_vanish_without_a_trace(client, emulator):
    victim = client.get("/calls").json()["calls"][0]
    assert emulator.delete_call(victim["id"]) is True
    assert victim["id"] not in {c["id"] for c in sweep(client)}
    assert emulator.delete_call(victim["id"]) is False


def test_a_late_call_lands_behind_a_forward_cursor(client, emulator, user_id):
    newest = client.get("/calls").json()["calls"][0]
    an_hour_earlier = datetime.fromisoformat(newest["start_date"]) - timedelta(hours=1)
    late = emulator.add_call(
        user_id=user_id, to="+16462000002", duration=42, started_at=an_hour_earlier, recorded=True
    )
    assert late["external"] is False
    assert late["start_date"] == an_hour_earlier.strftime("%Y-%m-%dT%H:%M:%SZ")
    # A sync that already read past ``newest`` will not see it on the first page again...
    assert client.get("/calls").json()["calls"][0]["id"] == newest["id"]
    # ...only a look-back window that reaches behind its cursor finds it.
    since = an_hour_earlier - timedelta(seconds=1)
    window = client.get("/calls", params={"start_date_from": since.isoformat()}).json()
    assert late["id"] in {c["id"] for c in window["calls"]}
    assert client.get(f"/calls/{late['id']}/recording").status_code == 200


def test_new_users_contacts_and_tasks_can_log_calls(client, emulator):
    user = emulator.add_user("Ola Nordmann", "ola@callsync-demo.test", phone="+14155559999")
    contact = emulator.add_contact("Kari Nordmann", "kari@acme.example", phone="+16465550000")
    task = emulator.add_task(user["id"], contact["id"], sequence_key="seq-1")
    listed = client.get("/tasks", params={"user_id": user["id"]}).json()["tasks"]
    assert [t["id"] for t in listed] == [task["id"]]
    created = client.post("/calls", json=call_body(user["id"], task["id"]))
    assert created.status_code == 201
    assert client.get("/calls").json()["calls"][0]["contact"]["name"] == "Kari Nordmann"
