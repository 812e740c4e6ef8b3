"""The Outreach emulator's OAuth 2.0 (doc §2.2): token endpoint, expiry, rotation, scopes."""

from __future__ import annotations

import base64

import pytest

from connectors.emulation import FaultKind, FaultPlan, World
from connectors.outreach.emulator import OutreachEmulator
from tests.emulators.test_outreach_support import AFTER_WORLD, MEDIA, errors_of, make

REFRESH = "refresh_token"


def test_the_token_response_has_the_documented_fields() -> None:
    harness = make(seed=False)
    harness.emulator.seed_world(World(calls=20))

    response = harness.token_request(
        grant_type=REFRESH, refresh_token=OutreachEmulator.DEMO_REFRESH_TOKEN
    )

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {
        "access_token", "token_type", "expires_in", "refresh_token", "scope", "created_at",
    }  # fmt: skip
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == 7200
    assert body["created_at"] == int(AFTER_WORLD.timestamp())
    assert "calls.all" in body["scope"].split()
    assert response.headers["cache-control"] == "no-store"


def test_the_demo_refresh_token_works_once_and_each_refresh_token_rotates() -> None:
    harness = make(token_mint_interval=0)  # spent the demo token already
    first = harness.refresh_token

    again = harness.token_request(
        grant_type=REFRESH, refresh_token=OutreachEmulator.DEMO_REFRESH_TOKEN
    )
    rotated = harness.token_request(grant_type=REFRESH, refresh_token=first)
    replayed = harness.token_request(grant_type=REFRESH, refresh_token=first)
    successor = harness.token_request(
        grant_type=REFRESH, refresh_token=rotated.json()["refresh_token"]
    )

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first
    assert replayed.status_code == 400  # the old one stops working
    assert replayed.json() == {
        "error": "invalid_grant",
        "error_description": replayed.json()["error_description"],
    }
    assert successor.status_code == 200


def test_access_tokens_expire_after_two_hours() -> None:
    harness = make()

    harness.clock.advance(7199)
    before = harness.get("/api/v2/calls", {"page[size]": "1"})
    harness.clock.advance(1)
    after = harness.get("/api/v2/calls", {"page[size]": "1"})

    assert before.status_code == 200
    assert after.status_code == 401
    assert errors_of(after)[0]["id"] == "unauthorized"
    assert "x-ratelimit-remaining" not in after.headers  # nobody to count it against


def test_the_expiry_is_a_tunable() -> None:
    harness = make(access_token_ttl=60)

    harness.clock.advance(60)

    assert harness.get("/api/v2/users").status_code == 401


def test_an_expire_token_fault_revokes_every_access_token_early() -> None:
    faults = FaultPlan()
    harness = make(faults=faults, token_mint_interval=0)
    faults.script(FaultKind.EXPIRE_TOKEN, path="/api/v2/calls")

    revoked = harness.get("/api/v2/calls")
    renewed = harness.token_request(grant_type=REFRESH, refresh_token=harness.refresh_token)
    harness.token = renewed.json()["access_token"]

    assert revoked.status_code == 401
    assert renewed.status_code == 200
    assert harness.get("/api/v2/calls").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_requests_without_a_live_token_get_401(headers: dict[str, str]) -> None:
    harness = make(calls=20)

    response = harness.http.get("/api/v2/calls", headers={"Content-Type": MEDIA, **headers})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_client_credentials_are_checked_in_the_form_or_by_basic_auth() -> None:
    harness = make(token_mint_interval=0)
    secret = base64.b64encode(
        f"{OutreachEmulator.DEMO_CLIENT_ID}:{OutreachEmulator.DEMO_CLIENT_SECRET}".encode()
    ).decode()

    wrong = harness.token_request(
        grant_type=REFRESH, refresh_token=harness.refresh_token, client_secret="guess"
    )
    basic = harness.http.post(
        "/oauth/token",
        data={"grant_type": REFRESH, "refresh_token": harness.refresh_token},
        headers={"Authorization": f"Basic {secret}"},
    )

    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert basic.status_code == 200  # and the refresh token was not spent by the wrong try


def test_the_token_endpoint_takes_form_encoding_only() -> None:
    harness = make(calls=20)

    as_json = harness.http.post(
        "/oauth/token",
        json={
            "grant_type": REFRESH,
            "refresh_token": harness.refresh_token,
            "client_id": OutreachEmulator.DEMO_CLIENT_ID,
            "client_secret": OutreachEmulator.DEMO_CLIENT_SECRET,
        },
    )
    no_grant = harness.token_request()
    odd_grant = harness.token_request(grant_type="password")

    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    assert no_grant.json()["error"] == "invalid_request"
    assert odd_grant.json()["error"] == "unsupported_grant_type"


def test_the_authorization_code_grant() -> None:
    harness = make(token_mint_interval=0)
    code = harness.emulator.issue_authorization_code(2)
    redirect = OutreachEmulator.DEMO_REDIRECT_URI

    wrong_uri = harness.token_request(
        grant_type="authorization_code", code=code, redirect_uri="https://evil.test/cb"
    )
    granted = harness.token_request(
        grant_type="authorization_code", code=code, redirect_uri=redirect
    )
    reused = harness.token_request(
        grant_type="authorization_code", code=code, redirect_uri=redirect
    )

    assert wrong_uri.json()["error"] == "invalid_grant"
    assert granted.status_code == 200
    assert reused.json()["error"] == "invalid_grant"


def test_at_most_one_new_access_token_per_user_per_minute() -> None:
    harness = make()  # the demo token was exchanged a moment ago

    throttled = harness.token_request(grant_type=REFRESH, refresh_token=harness.refresh_token)
    harness.clock.advance(60)
    later = harness.token_request(grant_type=REFRESH, refresh_token=harness.refresh_token)

    assert throttled.status_code == 429
    (error,) = errors_of(throttled)
    assert error["id"] == "rateLimitExceeded"
    assert int(throttled.headers["x-ratelimit-reset"]) == int(AFTER_WORLD.timestamp()) + 60
    assert later.status_code == 200  # the throttled attempt did not spend the token


def test_refresh_tokens_die_after_14_days() -> None:
    harness = make(token_mint_interval=0)

    harness.clock.advance(14 * 86400)
    response = harness.token_request(grant_type=REFRESH, refresh_token=harness.refresh_token)

    assert response.json()["error"] == "invalid_grant"


def test_a_refresh_token_dies_once_enough_newer_ones_exist() -> None:
    harness = make(token_mint_interval=0, refresh_tokens_kept=3)
    redirect = OutreachEmulator.DEMO_REDIRECT_URI
    for _ in range(3):  # three new grants for the same user
        code = harness.emulator.issue_authorization_code(1)
        harness.token_request(grant_type="authorization_code", code=code, redirect_uri=redirect)

    response = harness.token_request(grant_type=REFRESH, refresh_token=harness.refresh_token)

    assert response.json()["error"] == "invalid_grant"


def test_a_missing_scope_is_403_unauthorized_oauth_scope() -> None:
    harness = make(token_mint_interval=0)
    code = harness.emulator.issue_authorization_code(1, scope="calls.read")
    granted = harness.token_request(
        grant_type="authorization_code", code=code, redirect_uri=OutreachEmulator.DEMO_REDIRECT_URI
    )
    harness.token = granted.json()["access_token"]

    reads = harness.get("/api/v2/calls")
    writes = harness.post_call({"data": {"type": "call"}})
    prospects = harness.get("/api/v2/prospects")

    assert reads.status_code == 200
    assert writes.status_code == 403
    assert errors_of(writes) == [
        {
            "id": "unauthorizedOauthScope",
            "title": "Unauthorized OAuth Scope",
            "detail": "Your authorization does not include the required scope 'calls.write'.",
        }
    ]
    assert "'prospects.read'" in errors_of(prospects)[0]["detail"]
