"""The write path's look-up cache (users, people, tasks per target) in callsync's database.

Found identities are kept for a day, misses for ten minutes, so a parked write retried on the
next run sees a person who was added meanwhile without looking up every number on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from syncer.store import repo

FOUND_TTL = timedelta(days=1)
MISSING_TTL = timedelta(minutes=10)


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

    @staticmethod
    def _key(kind: str, key: str) -> str:
        return f"identity:{kind}:{key}"[:255]

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        name = self._key(kind, key)
        with self._engine.connect() as conn:
            stored = repo.get_state(conn, self._connection, [name]).get(name)
        if stored is None or datetime.fromisoformat(stored["expires"]) < self._clock():
            return None
        value: dict[str, Any] = stored["value"]
        return value

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        ttl = MISSING_TTL if value.get("missing") else FOUND_TTL
        stored = {"value": value, "expires": (self._clock() + ttl).isoformat()}
        with self._engine.begin() as conn:
            repo.put_state(conn, self._connection, {self._key(kind, key): stored})
