"""The write path's look-up cache (users, people, tasks per target) in callsync's database.

Found identities are kept for a day, misses for ten minutes, so a parked write retried on the
next run sees a person who was added meanwhile without looking up every number on every run.
The planner is told what the cache already says is missing (:func:`known_missing`), so a
call that would park is parked (and a dry run shows it) without asking the target.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from connectors.base import IdentityCache
from syncer import planner
from syncer.model import Call
from syncer.store import repo
from syncer.store.twins import remote_number

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
