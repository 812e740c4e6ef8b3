"""A look-up a connector needs to label the calls it reads, fetched once per connector instance.

Calls often name things by id only (a user, a custom outcome); the names come from a small
directory endpoint. Such an endpoint failing (a 404, a 5xx after retries, an unreadable answer)
must not stop the read of calls: :meth:`Lookup.get` answers None and the connector maps the
call without that label and says so in ``Connector.incomplete``, so the engine re-maps it on a
later run. Refused credentials (:class:`~syncer.errors.AuthError`) are not degraded: they stop
the connection as everywhere else. The write path cannot act on a missing label, so it uses
:meth:`Lookup.require`, which raises the error the fetch met.

One fetch per instance (the engine builds connectors per run): a failed look-up is not asked
again on every page, where each attempt would pay the client's retries and backoff again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import structlog

from syncer.errors import AuthError, TransientError, VendorError

log = structlog.get_logger("callsync.lookups")

T = TypeVar("T")
DEGRADED = (VendorError, TransientError)  # AuthError (a VendorError) is re-raised first


class Lookup(Generic[T]):
    def __init__(self, name: str, fetch: Callable[[], T]) -> None:
        self.name = name  # e.g. "GET /user/": says in reasons and logs what failed
        self._fetch = fetch
        self._value: T | None = None
        self._error: VendorError | TransientError | None = None
        self._done = False

    def get(self) -> T | None:
        """The looked-up value, or None when the fetch failed (for the rest of this run)."""
        if not self._done:
            self._load()
        return self._value

    def require(self) -> T:
        """The looked-up value; the fetch's error when it failed."""
        value = self.get()
        if self._error is not None:
            raise self._error
        assert value is not None  # _load sets one of the two
        return value

    @property
    def failure(self) -> str | None:
        """Why the look-up is unavailable (None: it answered, or has not been asked yet)."""
        return None if self._error is None else f"{self.name} failed: {self._error}"

    def _load(self) -> None:
        try:
            self._value = self._fetch()
        except AuthError:
            raise
        except DEGRADED as error:
            self._error = error
            log.warning("lookup.unavailable", lookup=self.name, error=str(error))
        self._done = True
