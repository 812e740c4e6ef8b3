"""Retries, waits and pacing of the shared vendor client, driven by httpx.MockTransport."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from syncer.errors import AmbiguousWriteError, RateLimitedError, VendorError
from syncer.http.client import VendorClient
from syncer.http.ratelimit import Pacer, RateLimitHint, first_int, parse_retry_after
from syncer.http.retry import RetryPolicy


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], fake: FakeTime, **kwargs
) -> VendorClient:
    pacer = Pacer(rate=100.0, burst=100, clock=fake.clock, sleep=fake.sleep)
    return VendorClient(
        vendor="acme",
        base_url="https://api.acme.test",
        pacer=pacer,
        transport=httpx.MockTransport(handler),
        sleep=fake.sleep,
        policy=RetryPolicy(rng=random.Random(1)),
        **kwargs,
    )


def scripted(*responses: httpx.Response | Exception):
    calls: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler, calls


def test_retry_after_seconds_wins():
    fake = FakeTime()
    handler, calls = scripted(
        httpx.Response(429, headers={"retry-after": "7"}), httpx.Response(200, json={})
    )
    client_for(handler, fake).request("GET", "/calls")
    assert len(calls) == 2
    assert fake.sleeps == [pytest.approx(7.0)]


def test_retry_after_http_date():
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert parse_retry_after(format_datetime(when, usegmt=True)) == pytest.approx(30, abs=2)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_vendor_reset_hint_used_without_retry_after():
    fake = FakeTime()
    handler, _ = scripted(httpx.Response(429, headers={"x-reset": "12"}), httpx.Response(200))
    hints = lambda headers: RateLimitHint(remaining=0, reset_after=float(headers.get("x-reset", 0)))  # noqa: E731
    client_for(handler, fake, hints=hints).request("GET", "/calls")
    assert 12 <= sum(fake.sleeps) <= 13


def test_5xx_backs_off_exponentially_with_jitter_and_gives_up():
    fake = FakeTime()
    handler, calls = scripted(*[httpx.Response(503) for _ in range(6)])
    with pytest.raises(VendorError) as caught:
        client_for(handler, fake).request("GET", "/calls")
    assert caught.value.status == 503
    assert len(calls) == 6
    assert len(fake.sleeps) == 5
    assert all(0 <= wait <= min(60, 2**i) for i, wait in enumerate(fake.sleeps))


def test_other_4xx_is_not_retried():
    fake = FakeTime()
    handler, calls = scripted(httpx.Response(422, json={"errors": [{"id": "validationError"}]}))
    with pytest.raises(VendorError, match="422"):
        client_for(handler, fake).request("POST", "/calls", json={})
    assert len(calls) == 1


def test_wait_past_the_cap_ends_the_run():
    fake = FakeTime()
    handler, _ = scripted(httpx.Response(429, headers={"retry-after": "86400"}))
    with pytest.raises(RateLimitedError):
        client_for(handler, fake).request("GET", "/calls")
    assert fake.sleeps == []


def test_connection_errors_retry_reads():
    fake = FakeTime()
    handler, calls = scripted(
        httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), httpx.Response(200)
    )
    assert client_for(handler, fake).request("GET", "/calls").status_code == 200
    assert len(calls) == 3


def test_a_create_is_never_resent_after_a_lost_response():
    fake = FakeTime()
    handler, calls = scripted(httpx.RemoteProtocolError("dropped"), httpx.Response(201))
    with pytest.raises(AmbiguousWriteError):
        client_for(handler, fake).request("POST", "/calls", json={"a": 1})
    assert len(calls) == 1


def test_a_create_is_resent_when_it_never_left():
    fake = FakeTime()
    handler, calls = scripted(
        httpx.ConnectError("refused"),
        httpx.Response(429, headers={"retry-after": "1"}),
        httpx.Response(201),
    )
    assert client_for(handler, fake).request("POST", "/calls", json={}).status_code == 201
    assert len(calls) == 3


def test_pacer_spaces_requests_to_its_rate():
    fake = FakeTime()
    pacer = Pacer(rate=2.0, burst=2, clock=fake.clock, sleep=fake.sleep)
    for _ in range(6):
        pacer.acquire()
    # two free (burst), then one every half second
    assert sum(fake.sleeps) == pytest.approx(2.0)


def test_pacer_holds_until_reset_when_nothing_remains():
    fake = FakeTime()
    pacer = Pacer(rate=100.0, burst=100, clock=fake.clock, sleep=fake.sleep)
    pacer.observe(RateLimitHint(remaining=0, reset_after=30.0))
    pacer.acquire()
    assert fake.sleeps == [pytest.approx(30.0)]


def test_first_int_reads_outreach_two_value_remaining():
    assert first_int("9999, 19988") == 9999
    assert first_int("garbage") is None


def test_cost_is_charged_to_the_pacer():
    fake = FakeTime()
    pacer = Pacer(rate=10.0, burst=20, clock=fake.clock, sleep=fake.sleep)
    handler, _ = scripted(httpx.Response(200), httpx.Response(200))
    client = VendorClient(
        vendor="pd",
        base_url="https://x.test",
        pacer=pacer,
        transport=httpx.MockTransport(handler),
        sleep=fake.sleep,
        cost=lambda method, path: 20.0,
    )
    client.request("GET", "/v1/callLogs")
    client.request("GET", "/v1/callLogs")
    assert sum(fake.sleeps) == pytest.approx(2.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_answer_to_a_create_is_ambiguous_for_every_vendor(status):
    # A 5xx may hide a commit: the create is never resent and the engine asks by marker.
    fake = FakeTime()
    handler, calls = scripted(httpx.Response(status))
    with pytest.raises(AmbiguousWriteError, match=str(status)):
        client_for(handler, fake).request("POST", "/calls", json={})
    assert len(calls) == 1


def test_a_refused_connect_is_resent_even_for_a_create():
    fake = FakeTime()
    handler, calls = scripted(httpx.ConnectTimeout("no route"), httpx.Response(201))
    assert client_for(handler, fake).request("POST", "/calls", json={}).status_code == 201
    assert len(calls) == 2


# --- honest failures (issue 9): credentials refused and vendors unreachable stop at once -------


def test_a_401_is_fatal_for_the_rest_of_the_run():
    from syncer.errors import AuthError

    fake = FakeTime()
    handler, calls = scripted(httpx.Response(401, json={"error": "bad key"}))
    client = client_for(handler, fake)
    with pytest.raises(AuthError) as first:
        client.request("GET", "/users")
    assert "credentials rejected" in str(first.value)
    with pytest.raises(AuthError):
        client.request("GET", "/calls")  # refused at once, nothing sent
    assert len(calls) == 1


def test_a_403_is_raised_but_the_next_endpoint_is_still_tried():
    from syncer.errors import AuthError

    fake = FakeTime()
    handler, calls = scripted(httpx.Response(403, json={"error": "scope"}), httpx.Response(200))
    client = client_for(handler, fake)
    with pytest.raises(AuthError):
        client.request("GET", "/users")
    assert client.request("GET", "/calls").status_code == 200
    assert len(calls) == 2


def test_a_vendor_refusing_connections_is_given_up_on_after_three_tries():
    from syncer.errors import VendorUnreachableError

    fake = FakeTime()
    refused = [httpx.ConnectError("refused") for _ in range(10)]
    handler, calls = scripted(*refused)
    client = client_for(handler, fake)
    with pytest.raises(VendorUnreachableError) as given_up:
        client.request("GET", "/calls")
    assert "3 connections in a row" in str(given_up.value)
    with pytest.raises(VendorUnreachableError):
        client.request("POST", "/calls", json={})  # open circuit: nothing sent
    assert len(calls) == 3
    assert sum(fake.sleeps) < 10


def test_a_refused_connect_then_an_answer_closes_the_count_again():
    fake = FakeTime()
    handler, calls = scripted(
        httpx.ConnectError("refused"),
        httpx.ConnectError("refused"),
        httpx.Response(200),
        httpx.ConnectError("refused"),
        httpx.ConnectError("refused"),
        httpx.Response(200),
    )
    client = client_for(handler, fake)
    assert client.request("GET", "/a").status_code == 200
    assert client.request("GET", "/b").status_code == 200
    assert len(calls) == 6


def test_a_token_exchange_and_the_request_it_serves_share_one_circuit():
    """A connect refused by the API, then by the token endpoint (the access token ran out in
    the backoff), counts towards one limit: three connects in all, not three per client."""
    from syncer.errors import VendorUnreachableError
    from syncer.http.client import Circuit
    from syncer.http.oauth import IssuedToken, RotatingTokenAuth

    fake = FakeTime()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    handler, calls = scripted(*[httpx.ConnectError("refused") for _ in range(10)])
    circuit = Circuit()
    tokens = client_for(handler, fake, circuit=circuit)

    def spend(refresh: str) -> IssuedToken:
        tokens.request("POST", "/oauth/token", data={"refresh_token": refresh})
        raise AssertionError("the token endpoint refuses every connect")

    class Store:
        # Valid for the first attempt; gone after its backoff.
        token = IssuedToken("access", "refresh", start + timedelta(seconds=0.01))

        def current(self):
            return self.token

        def rotate(self, spend, stale):
            return spend(self.token.refresh_token)

    clock = lambda: start + timedelta(seconds=fake.now)  # noqa: E731
    auth = RotatingTokenAuth(Store(), spend, margin=timedelta(0), clock=clock)
    api = client_for(handler, fake, circuit=circuit, auth=auth)
    with pytest.raises(VendorUnreachableError):
        api.request("GET", "/calls")
    assert [request.url.path for request in calls] == ["/calls", "/oauth/token", "/oauth/token"]
