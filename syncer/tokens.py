"""The OAuth token store in callsync's database: the only secrets the database holds.

A connection's first refresh token comes from the config; from then on the newest one lives
here, because the vendor rotates it on every use. If the admin puts a *different* refresh token
in the config (re-authorised the app), the stored chain is replaced by it.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, Engine

from syncer.errors import RefreshTokenRefused
from syncer.http.oauth import IssuedToken, Spend
from syncer.store import repo

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(connection: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(connection, threading.Lock())


def _fingerprint(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


class DatabaseTokenStore:
    def __init__(
        self,
        engine: Engine,
        connection: str,
        configured_refresh_token: str,
        origin: str | None = None,
    ) -> None:
        self._engine = engine
        self._connection = connection
        self._configured = configured_refresh_token
        self._origin = origin  # where the configured token comes from (for error messages)

    def _issued(self, stored: repo.StoredToken | None) -> IssuedToken | None:
        if stored is None or stored.access_token is None or stored.expires_at is None:
            return None
        if stored.seed_fingerprint != _fingerprint(self._configured):
            return None  # the config names a newer authorisation
        return IssuedToken(stored.access_token, stored.refresh_token, stored.expires_at)

    def current(self) -> IssuedToken | None:
        with self._engine.connect() as conn:
            return self._issued(repo.load_token(conn, self._connection))

    def rotate(self, spend: Spend, stale_access_token: str | None) -> IssuedToken:
        # The process lock spares threads a database round trip; the row lock (PostgreSQL) or
        # the exclusive write transaction (SQLite) covers other processes and replicas.
        with _lock_for(self._connection), self._engine.begin() as conn:
            stored = self._seeded(conn)
            issued = self._issued(stored)
            now = datetime.now(UTC)
            if issued and issued.access_token != stale_access_token and issued.expires_at > now:
                return issued
            try:
                fresh = spend(stored.refresh_token)
            except RefreshTokenRefused as refused:
                rotated = stored.refresh_token != self._configured
                raise RefreshTokenRefused(
                    refused.vendor, refused.status, self._origin, rotated=rotated
                ) from None
            saved = repo.store_token(
                conn,
                self._connection,
                repo.StoredToken(
                    fresh.refresh_token,
                    fresh.access_token,
                    fresh.expires_at,
                    0,
                    _fingerprint(self._configured),
                ),
                expected_version=stored.version,
            )
            if not saved:
                raise RuntimeError("OAuth token row changed while locked")
            return fresh

    def _seeded(self, conn: Connection) -> repo.StoredToken:
        stored = repo.load_token(conn, self._connection, lock=True)
        seed = _fingerprint(self._configured)
        if stored is not None and stored.seed_fingerprint == seed:
            return stored
        if stored is not None:
            repo.delete_token(conn, self._connection)
        initial = repo.StoredToken(self._configured, None, None, 1, seed)
        repo.store_token(conn, self._connection, initial, expected_version=None)
        reloaded = repo.load_token(conn, self._connection, lock=True)
        assert reloaded is not None
        return reloaded
