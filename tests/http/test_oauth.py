"""Rotating refresh tokens: persisted before use, never spent twice, refreshed on 401."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncer import tokens
from syncer.http.oauth import IssuedToken, RotatingTokenAuth
from syncer.store import repo
from syncer.tokens import DatabaseTokenStore


class RotatingVendor:
    """A token endpoint whose refresh tokens work exactly once."""

    def __init__(self, first_refresh: str) -> None:
        self.valid_refresh = {first_refresh}
        self.valid_access: set[str] = set()
        self.spent: list[str] = []
        self.counter = 0
        self.lock = threading.Lock()

    def spend(self, refresh_token: str) -> IssuedToken:
        with self.lock:
            if refresh_token not in self.valid_refresh:
                raise RuntimeError(f"invalid_grant: {refresh_token} was already used")
            self.valid_refresh.discard(refresh_token)
            self.spent.append(refresh_token)
            self.counter += 1
            access, refresh = f"access-{self.counter}", f"refresh-{self.counter}"
            self.valid_refresh.add(refresh)
            self.valid_access.add(access)
            return IssuedToken(access, refresh, datetime.now(UTC) + timedelta(hours=2))

    def api(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return httpx.Response(200 if token in self.valid_access else 401)


def test_first_use_spends_the_configured_token_and_persists_the_new_one(engine):
    vendor = RotatingVendor("configured")
    store = DatabaseTokenStore(engine, "outreach", "configured")
    auth = RotatingTokenAuth(store, vendor.spend)
    with httpx.Client(transport=httpx.MockTransport(vendor.api), auth=auth) as client:
        assert client.get("https://api.test/calls").status_code == 200
        assert client.get("https://api.test/calls").status_code == 200
    assert vendor.spent == ["configured"]
    with engine.connect() as conn:
        stored = repo.load_token(conn, "outreach")
    assert stored is not None
    assert (stored.refresh_token, stored.access_token) == ("refresh-1", "access-1")


def test_a_401_refreshes_once_and_retries(engine):
    vendor = RotatingVendor("configured")
    store = DatabaseTokenStore(engine, "outreach", "configured")
    auth = RotatingTokenAuth(store, vendor.spend)
    with httpx.Client(transport=httpx.MockTransport(vendor.api), auth=auth) as client:
        client.get("https://api.test/calls")
        vendor.valid_access.clear()  # the vendor forgets the token early
        assert client.get("https://api.test/calls").status_code == 200
    assert vendor.spent == ["configured", "refresh-1"]


def test_expiring_token_is_refreshed_before_use(engine):
    vendor = RotatingVendor("configured")
    store = DatabaseTokenStore(engine, "outreach", "configured")
    later = datetime.now(UTC) + timedelta(hours=1, minutes=58)
    auth = RotatingTokenAuth(store, vendor.spend, clock=lambda: later)
    auth.token()
    auth.token()  # 2 minutes before expiry: inside the 5-minute margin, so refresh
    assert vendor.spent == ["configured", "refresh-1"]


@pytest.mark.parametrize("process_lock", [True, False], ids=["threads", "replicas"])
def test_parallel_workers_never_spend_the_same_refresh_token(engine, monkeypatch, process_lock):
    if not process_lock:  # as separate replicas would: only the database lock protects
        monkeypatch.setattr(tokens, "_lock_for", lambda _name: threading.Lock())
    vendor = RotatingVendor("configured")
    errors: list[Exception] = []

    def worker() -> None:
        store = DatabaseTokenStore(engine, "outreach", "configured")
        auth = RotatingTokenAuth(store, vendor.spend)
        try:
            for _ in range(3):
                auth.token()
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert vendor.spent == ["configured"]


def test_a_new_configured_token_replaces_the_stored_chain(engine):
    vendor = RotatingVendor("configured")
    RotatingTokenAuth(DatabaseTokenStore(engine, "outreach", "configured"), vendor.spend).token()
    vendor.valid_refresh.add("reauthorised")
    token = RotatingTokenAuth(
        DatabaseTokenStore(engine, "outreach", "reauthorised"), vendor.spend
    ).token()
    assert vendor.spent == ["configured", "reauthorised"]
    assert token.access_token == "access-2"


def test_a_refused_stored_refresh_token_says_it_was_rotated_from_the_configured_one(engine):
    from syncer.errors import RefreshTokenRefused

    origin = "${OUTREACH_REFRESH_TOKEN} (connections.outreach.refresh_token in callsync.yaml)"
    store = DatabaseTokenStore(engine, "outreach", "configured", origin)
    vendor = RotatingVendor("configured")
    store.rotate(vendor.spend, None)  # the chain moves on: the database holds refresh-1

    def refused(_token: str) -> IssuedToken:
        raise RefreshTokenRefused("outreach", 400)

    with pytest.raises(RefreshTokenRefused) as raised:
        store.rotate(refused, store.current().access_token)
    message = str(raised.value)
    assert message.startswith("the Outreach refresh token callsync stored (rotated from the one")
    assert f"put the new refresh token in {origin}" in message
    assert "refresh-1" not in message and "configured" not in message.replace("configured one", "")


class CountingStore(DatabaseTokenStore):
    reads = 0

    def current(self) -> IssuedToken | None:
        self.reads += 1
        return super().current()


def test_a_fresh_access_token_is_read_from_the_store_once_not_per_request(engine):
    vendor = RotatingVendor("configured")
    store = CountingStore(engine, "outreach", "configured")
    auth = RotatingTokenAuth(store, vendor.spend)
    with httpx.Client(transport=httpx.MockTransport(vendor.api), auth=auth) as client:
        for _ in range(5):
            assert client.get("https://api.test/calls").status_code == 200
    assert store.reads == 1
    assert vendor.spent == ["configured"]
