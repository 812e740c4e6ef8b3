"""The Outreach emulator's rate limits (doc §2.10) and injected faults in the vendor's shapes."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from connectors.emulation import FaultKind, FaultPlan
from tests.emulators.test_outreach_support import (
    AFTER_WORLD,
    all_calls,
    call_body,
    errors_of,
    make,
)

NOW = int(AFTER_WORLD.timestamp())


def test_every_counted_response_carries_the_rate_limit_headers() -> None:
    harness = make(calls=20, dual_remaining_every=0)

    ok = harness.get("/api/v2/calls")
    missing = harness.get("/api/v2/calls/1")  # errors are counted too
    invalid = harness.get("/api/v2/calls", {"sort": "note"})

    for response, remaining in ((ok, "9999"), (missing, "9998"), (invalid, "9997")):
        assert response.headers["x-ratelimit-limit"] == "10000"
        assert response.headers["x-ratelimit-remaining"] == remaining
        assert int(response.headers["x-ratelimit-reset"]) == NOW + 3600  # epoch seconds


def test_remaining_sometimes_holds_two_comma_separated_numbers() -> None:
    harness = make(calls=20, dual_remaining_every=3)

    values = [harness.get("/api/v2/users").headers["x-ratelimit-remaining"] for _ in range(6)]

    assert values[0] == "9999"
    assert re.fullmatch(r"9997, \d+", values[2])
    assert re.fullmatch(r"9994, \d+", values[5])
    assert sum("," in value for value in values) == 2


def test_over_the_hourly_limit_is_a_429_rate_limit_exceeded() -> None:
    harness = make(calls=20, rate_limit=3, dual_remaining_every=0)
    for _ in range(3):
        assert harness.get("/api/v2/users").status_code == 200

    refused = harness.get("/api/v2/users")
    harness.clock.advance(3600)
    later = harness.get("/api/v2/users")

    assert refused.status_code == 429
    (error,) = errors_of(refused)
    assert error["id"] == "rateLimitExceeded"
    assert error["detail"].startswith("You have exceeded your permitted rate limit of 3;")
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) == NOW + 3600
    assert "retry-after" not in refused.headers  # only X-RateLimit-Reset is promised
    assert later.status_code == 200


def test_the_limit_is_per_user() -> None:
    harness = make(calls=20, rate_limit=2, token_mint_interval=0)
    code = harness.emulator.issue_authorization_code(3)
    other = harness.token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=harness.emulator.DEMO_REDIRECT_URI,
    ).json()["access_token"]
    harness.get("/api/v2/users")
    harness.get("/api/v2/users")

    mine = harness.get("/api/v2/users")
    theirs = harness.http.get(
        "/api/v2/users", headers={**harness.headers, "Authorization": f"Bearer {other}"}
    )

    assert mine.status_code == 429
    assert theirs.status_code == 200


# --- injected faults ------------------------------------------------------------------------


def test_an_injected_429_looks_like_the_vendor_s() -> None:
    faults = FaultPlan()
    harness = make(calls=20, faults=faults)
    faults.script(FaultKind.RATE_LIMIT, path="/api/v2/calls")

    response = harness.get("/api/v2/calls")

    assert response.status_code == 429
    assert errors_of(response)[0]["id"] == "rateLimitExceeded"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-reset"]) == NOW + 1


def test_server_errors_in_their_shapes() -> None:
    faults = FaultPlan()
    harness = make(calls=20, faults=faults)
    for status in (500, 503, 502, 504):
        faults.script(FaultKind.SERVER_ERROR, status=status)

    internal, maintenance, bad_gateway, gateway_timeout = (
        harness.get("/api/v2/calls") for _ in range(4)
    )

    assert errors_of(internal)[0]["id"] == "internalServerError"
    assert errors_of(maintenance)[0]["id"] == "scheduledServerMaintenance"
    # Retry-After is an ISO 8601 time here, not seconds or an HTTP-date.
    assert maintenance.headers["retry-after"] == "2026-03-01T12:00:30"
    for response in (bad_gateway, gateway_timeout):
        assert response.headers["content-type"] == "text/html"
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_a_lost_response_after_a_committed_create() -> None:
    faults = FaultPlan()
    harness = make(calls=20, faults=faults)
    prospect = harness.get("/api/v2/prospects").json()["data"][0]["id"]
    before = len(all_calls(harness))
    faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path="/api/v2/calls")

    with pytest.raises(httpx.RemoteProtocolError):
        harness.post_call(call_body(prospect, 1))

    assert len(all_calls(harness)) == before + 1  # the call exists: a retry would duplicate it


def test_a_malformed_body_and_a_dropped_connection() -> None:
    faults = FaultPlan()
    harness = make(calls=20, faults=faults)
    faults.script(FaultKind.MALFORMED, path="/api/v2/calls")
    faults.script(FaultKind.DROP, path="/api/v2/users")

    truncated = harness.get("/api/v2/calls")

    assert truncated.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        truncated.json()
    with pytest.raises(httpx.RemoteProtocolError):
        harness.get("/api/v2/users")
