"""The write path's look-up cache (users, people, tasks per target) in callsync's database.

Found identities are kept for a day, misses for ten minutes, so a parked write retried on the
next run sees a person who was added meanwhile without looking up every number on every run.
The planner is told what the cache already says is missing (:func:`known_missing`), so a
call that would park is parked (and a dry run shows it) without asking the target.

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

from connectors.base import IdentityCache
from syncer import planner
from syncer.model import Call
from syncer.store import repo
from syncer.store.twins import remote_number

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


def known_missing(
    cache: IdentityCache, vendor: str, call: Call, *, create_missing_contacts: bool
) -> planner.Missing | None:
    """What the look-up cache already says the target lacks for ``call``, asking nothing.

    The kinds every connector caches alike (``connectors/*/identity.py``): ``user`` by the
    lower-cased e-mail, ``phone`` by the E.164 number, ``email`` by the lower-cased address,
    a miss as ``{"missing": True}``. Only a miss on every way the connector looks for a
    person counts; anything not cached, or cached as found, is left for ``resolve`` to ask.
    With ``create_missing_contacts`` a missing person is the connector's to create or refuse.
    """
    vendor = vendor.capitalize()
    email = (call.user.email or "").strip().lower() if call.user else ""
    if email and _missed(cache, "user", email):
        return planner.Missing(f"no {vendor} user with e-mail {email} ({CACHED})")
    if create_missing_contacts:
        return None
    number = remote_number(call)
    contact = (call.contact.email or "").strip().lower() if call.contact else ""
    if number is None or not _missed(cache, "phone", number):
        return None
    if contact and not _missed(cache, "email", contact):
        return None
    wanted = " or ".join(part for part in (number, contact) if part)
    return planner.Missing(f"no {vendor} person with {wanted} ({CACHED})")


CACHED = "known from the look-up cache: asked again once it expires"


def _missed(cache: IdentityCache, kind: str, key: str) -> bool:
    found = cache.get(kind, key)
    return found is not None and found.get("missing") is True
