"""The write path's look-up cache (users, people, tasks per target) in callsync's database.

Found identities are kept for a day, misses for ten minutes, so a parked write retried on the
next run sees a person who was added meanwhile without looking up every number on every run.

The cache lives as long as its connector (one run): its first ``get`` reads every unexpired
entry of the connection in one query, later ones are answered from memory. Puts are written
at once, except under :meth:`DatabaseIdentityCache.deferred` (the push, around each chunk of
calls): there they are written together when it ends (and every :data:`FLUSH_EVERY` puts), so
a look-up no longer costs a transaction of its own. Entries lost to a crash before that are
only looked up again; another process's puts during the run are seen by the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from syncer.store import repo

FOUND_TTL = timedelta(days=1)
MISSING_TTL = timedelta(minutes=10)
FLUSH_EVERY = 200
PREFIX = "identity:"


class DatabaseIdentityCache:
    def __init__(
        self,
        engine: Engine,
        connection: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._connection = connection
        self._clock = clock
        self._known: dict[str, dict[str, Any]] | None = None  # key -> {"value", "expires"}
        self._unsaved: dict[str, dict[str, Any]] = {}
        self._deferring = False

    @staticmethod
    def _key(kind: str, key: str) -> str:
        return f"{PREFIX}{kind}:{key}"[:255]

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        stored = self._entries().get(self._key(kind, key))
        if stored is None or datetime.fromisoformat(stored["expires"]) < self._clock():
            return None
        value: dict[str, Any] = stored["value"]
        return value

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        ttl = MISSING_TTL if value.get("missing") else FOUND_TTL
        stored = {"value": value, "expires": (self._clock() + ttl).isoformat()}
        name = self._key(kind, key)
        self._entries()[name] = stored
        self._unsaved[name] = stored
        if not self._deferring or len(self._unsaved) >= FLUSH_EVERY:
            self.flush()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Puts inside are written together when it ends (or fails)."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            self.flush()

    def flush(self) -> None:
        """Write the puts not yet stored, in one transaction."""
        if not self._unsaved:
            return
        with self._engine.begin() as conn:
            repo.put_state(conn, self._connection, self._unsaved)
        self._unsaved = {}

    def _entries(self) -> dict[str, dict[str, Any]]:
        if self._known is None:
            self._known = self._load()
        return self._known

    def _load(self) -> dict[str, dict[str, Any]]:
        """Every unexpired entry of the connection (expired ones would only be looked up)."""
        state = repo.state_t
        stmt = sa.select(state.c.key, state.c.value).where(
            state.c.connection == self._connection, state.c.key.startswith(PREFIX)
        )
        now = self._clock()
        with self._engine.connect() as conn:
            rows = list(conn.execute(stmt))
        return {
            key: value
            for key, value in rows
            if isinstance(value, dict) and datetime.fromisoformat(value["expires"]) >= now
        }
