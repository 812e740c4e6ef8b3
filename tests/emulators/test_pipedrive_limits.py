"""Pipedrive emulator: API-token auth, error shapes, rate limits, token costs, fault injection
(vendor-apis §2.1, §2.9, §2.10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.emulation import EmulatorTransport, FaultKind, FaultPlan, ManualClock, World
from connectors.pipedrive.emulator import PipedriveEmulator

BASE = "https://api.pipedrive.com"
ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
TOKEN = PipedriveEmulator.DEMO_API_TOKEN


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))


def make_emulator(clock: ManualClock, **tunables: object) -> PipedriveEmulator:
    emulator = PipedriveEmulator(clock=clock, **tunables)  # type: ignore[arg-type]
    emulator.seed_world(World(seed=7, calls=160, users=3, days=2))
    return emulator


def client_for(emu: PipedriveEmulator, token: str | None = TOKEN) -> httpx.Client:
    headers = {"x-api-token": token} if token else {}
    return httpx.Client(transport=EmulatorTransport(emu), base_url=BASE, headers=headers)


def remaining(response: httpx.Response) -> int:
    return int(response.headers["x-daily-ratelimit-token-remaining"])


# --- auth and error shapes -------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "0" * 40])
def test_missing_or_wrong_token_gets_the_gateway_401(clock: ManualClock, token: str | None) -> None:
    response = client_for(make_emulator(clock), token).get("/v1/callLogs")
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "unauthorized access",
        "errorCode": 401,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }


def test_the_legacy_query_string_token_is_not_accepted(clock: ManualClock) -> None:
    client = client_for(make_emulator(clock), None)
    assert client.get("/v1/users/me", params={"api_token": TOKEN}).status_code == 401


def test_unknown_paths_answer_pipedrives_unknown_method(clock: ManualClock) -> None:
    response = client_for(make_emulator(clock)).get("/v1/callLog")
    assert response.status_code == 404
    assert response.json()["error"] == "Unknown method ."
    assert response.json()["success"] is False


def test_a_malformed_json_body_is_a_400(clock: ManualClock) -> None:
    response = client_for(make_emulator(clock)).post(
        "/v1/callLogs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["success"] is False


# --- headers and token costs -----------------------------------------------------------------


def test_every_answer_carries_burst_and_daily_headers_even_errors(clock: ManualClock) -> None:
    emu = make_emulator(clock, daily_headers_missing_every=0)
    client = client_for(emu)
    first = client.get("/v1/users/me")
    assert first.headers["x-ratelimit-limit"] == "20"
    assert first.headers["x-ratelimit-remaining"] == "19"
    assert first.headers["x-ratelimit-reset"] == "2"
    assert first.headers["x-daily-ratelimit-token-limit"] == str(30_000 * 3)
    assert remaining(first) == 30_000 * 3 - 2
    missing = client.get("/v1/callLogs/nope")
    assert missing.status_code == 404
    assert missing.headers["x-ratelimit-remaining"] == "18"
    assert remaining(missing) == remaining(first) - 2  # errors are charged too


def cost_requests(emu: PipedriveEmulator) -> list[tuple[str, str, dict[str, Any], int]]:
    log = next(
        stored.doc for stored in emu.store.call_logs.scan() if not stored.doc["has_recording"]
    )
    activity = log["activity_id"]
    person = next(stored.id for stored in emu.store.persons.scan())
    create = {
        "outcome": "busy",
        "to_phone_number": "+16503334444",
        "start_time": "2026-01-20 08:00:00",
        "end_time": "2026-01-20 08:00:05",
    }
    return [
        ("GET", "/v1/callLogs", {}, 20),
        ("GET", f"/api/v1/callLogs/{log['id']}", {}, 2),
        ("POST", "/v1/callLogs", {"json": create}, 10),
        ("POST", f"/v1/callLogs/{log['id']}/recordings", {"files": {"file": b"a"}}, 10),
        ("DELETE", f"/v1/callLogs/{log['id']}", {}, 6),
        ("GET", "/api/v2/activities", {}, 10),
        ("GET", f"/api/v2/activities/{activity}", {}, 1),
        ("POST", "/api/v2/activities", {"json": {"type": "task"}}, 5),
        ("PATCH", f"/api/v2/activities/{activity}", {"json": {"done": True}}, 5),
        ("DELETE", f"/api/v2/activities/{activity}", {}, 3),
        ("GET", "/v1/users/me", {}, 2),
        ("GET", "/v1/users/find", {"params": {"term": "ana"}}, 40),
        ("GET", "/api/v2/persons/search", {"params": {"term": "415"}}, 20),
        ("GET", "/v1/persons/search", {"params": {"term": "415"}}, 40),
        ("GET", f"/api/v2/persons/{person}", {}, 1),
    ]


def test_each_endpoint_costs_its_documented_tokens(clock: ManualClock) -> None:
    emu = make_emulator(clock, burst_limit=1_000, daily_headers_missing_every=0)
    client = client_for(emu)
    before = emu.daily_tokens_remaining()
    for method, url, kwargs, cost in cost_requests(emu):
        response = client.request(method, url, **kwargs)
        assert response.status_code == 200, (url, response.text)
        assert remaining(response) == before - cost, (method, url)
        before -= cost


def test_daily_headers_are_missing_on_some_answers(clock: ManualClock) -> None:
    client = client_for(make_emulator(clock, daily_headers_missing_every=4))
    answers = [client.get("/v1/users/me").headers for _ in range(8)]
    lacking = [
        i for i, headers in enumerate(answers) if "x-daily-ratelimit-token-remaining" not in headers
    ]
    assert lacking == [3, 7]
    assert all("x-ratelimit-remaining" in headers for headers in answers)


def test_the_default_budget_is_30000_per_seat_times_the_plan(clock: ManualClock) -> None:
    lite = make_emulator(clock)
    assert lite.daily_tokens_remaining() == 30_000 * 3
    lite.add_user("Fourth Seat", "fourth@callsync-demo.test")
    assert lite.daily_tokens_remaining() == 30_000 * 4
    growth = make_emulator(clock, plan_multiplier=2)
    assert growth.daily_tokens_remaining() == 30_000 * 2 * 3


# --- burst and budget 429s -------------------------------------------------------------------


def test_burst_limit_is_per_token_over_two_seconds(clock: ManualClock) -> None:
    emu = make_emulator(clock, burst_limit=5)
    client = client_for(emu)
    other = client_for(emu, emu.api_token_for(emu.user_ids()[1]))
    assert [client.get("/v1/users/me").status_code for _ in range(5)] == [200] * 5
    limited = client.get("/v1/users/me")
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["success"] is False
    assert limited.json()["error_info"] == ERROR_INFO
    assert other.get("/v1/users/me").status_code == 200  # another token has its own window
    clock.advance(1.0)
    assert client.get("/v1/users/me").status_code == 429
    clock.advance(1.0)
    assert client.get("/v1/users/me").status_code == 200


def test_search_has_its_own_10_per_2_seconds_window(clock: ManualClock) -> None:
    client = client_for(make_emulator(clock, burst_limit=100, hammer_limit=None))
    statuses = [
        client.get("/api/v2/persons/search", params={"term": "415"}).status_code for _ in range(11)
    ]
    assert statuses == [200] * 10 + [429]
    assert client.get("/v1/users/me").status_code == 200


def test_the_budget_is_shared_and_its_429_lasts_until_midnight(clock: ManualClock) -> None:
    emu = make_emulator(clock, daily_budget=50, daily_headers_missing_every=0)
    admin = client_for(emu)
    rep = client_for(emu, emu.api_token_for(emu.user_ids()[1]))
    assert remaining(admin.get("/v1/callLogs")) == 30
    assert remaining(rep.get("/v1/callLogs")) == 10  # the same company budget
    spent = rep.get("/v1/callLogs")
    assert spent.status_code == 429
    assert spent.headers["x-daily-ratelimit-token-remaining"] == "10"
    assert "retry-after" not in spent.headers  # waiting a little does not help
    assert admin.get("/v1/users/me").status_code == 200  # cheaper calls still fit
    emu.spend_daily_tokens(100)
    exhausted = admin.get("/v1/users/me")
    assert exhausted.status_code == 429
    assert exhausted.headers["x-daily-ratelimit-token-remaining"] == "0"
    clock.advance(3600)
    assert admin.get("/v1/users/me").status_code == 429
    clock.set(datetime(2026, 1, 21, 0, 0, 1, tzinfo=UTC))
    assert admin.get("/v1/users/me").status_code == 200


def test_hammering_after_429s_gets_cloudflares_html_403(clock: ManualClock) -> None:
    client = client_for(make_emulator(clock, burst_limit=2, hammer_limit=3))
    statuses = [client.get("/v1/users/me").status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 403]
    blocked = client.get("/v1/users/me")
    assert blocked.status_code == 403
    assert blocked.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        blocked.json()
    clock.advance(11)
    assert client.get("/v1/users/me").status_code == 200


# --- fault injection through the shared framework --------------------------------------------


def test_injected_faults_speak_pipedrive(clock: ManualClock) -> None:
    faults = FaultPlan(seed=1)
    emu = make_emulator(clock, faults=faults)
    client = client_for(emu)
    faults.script(FaultKind.RATE_LIMIT, path="/users/me")
    limited = client.get("/v1/users/me")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["errorCode"] == 429
    faults.script(FaultKind.SERVER_ERROR, path="/users/me", status=503)
    unavailable = client.get("/v1/users/me")
    assert unavailable.status_code == 503
    assert unavailable.json()["success"] is False
    faults.script(FaultKind.MALFORMED, path="/callLogs")
    with pytest.raises(json.JSONDecodeError):
        client.get("/v1/callLogs").json()


def test_a_lost_response_after_create_still_committed_the_log(clock: ManualClock) -> None:
    faults = FaultPlan(seed=1)
    emu = make_emulator(clock, faults=faults)
    client = client_for(emu)
    before = emu.store.call_logs.count()
    faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path="/callLogs$")
    body = {
        "outcome": "connected",
        "to_phone_number": "+16503334444",
        "start_time": "2026-01-20 08:00:00",
        "end_time": "2026-01-20 08:01:00",
    }
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/callLogs", json=body)
    assert emu.store.call_logs.count() == before + 1
    assert emu.stats.by_route["POST /v1/callLogs"] == 1
