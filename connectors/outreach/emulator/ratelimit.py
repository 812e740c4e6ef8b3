"""Outreach's request budget: 10,000 requests per hour per user (doc §2.10).

Every API response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (Unix epoch seconds). Over the limit: 429 ``rateLimitExceeded`` whose
detail names the retry time; no ``Retry-After`` is sent (the documents only promise the
``X-RateLimit-*`` headers, so a client must be able to work from ``Reset`` alone).

Quirk: ``X-RateLimit-Remaining`` sometimes holds two comma-separated numbers ("9999, 19988",
undocumented; Singer reads the first as the hourly figure). Here every ``dual_every``-th
response of a user shows the user's figure first and, second, what is left of a larger
org-wide window (twice the user limit). That second budget is reported, not enforced: what
it really measures is unknown.

The counters are in memory: a restarted emulator starts a fresh hour, as a vendor would not,
but no test needs a budget to outlive a restart.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from connectors.emulation.base import ApiError
from connectors.emulation.clock import Clock
from connectors.emulation.limits import SlidingWindow
from connectors.outreach.emulator.jsonapi import epoch


class UserRateLimit:
    def __init__(self, clock: Clock, *, limit: int, window: float, dual_every: int) -> None:
        self.clock = clock
        self.limit = limit
        self.dual_every = dual_every
        self._users = SlidingWindow(limit, window, clock)
        self._org = SlidingWindow(limit * 2, window, clock)
        self._answered: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, user: str) -> dict[str, str]:
        """Count one request of ``user``; the headers to send, or a 429 ``ApiError``."""
        if not self._users.hit(user):
            raise self.exceeded(user)
        self._org.hit("org")
        with self._lock:
            self._answered[user] += 1
            dual = self.dual_every > 0 and self._answered[user] % self.dual_every == 0
        remaining = str(self._users.remaining(user))
        if dual:
            remaining = f"{remaining}, {self._org.remaining('org')}"
        return self._headers(remaining, self._users.reset_in_whole_seconds(user))

    def exceeded(self, user: str) -> ApiError:
        return self._error(self._users.reset_in_whole_seconds(user))

    def injected(self) -> ApiError:
        """The 429 of a RATE_LIMIT fault: a short burst limit, over in a second."""
        return self._error(1)

    def _error(self, reset_in: int) -> ApiError:
        at = self.clock.now() + timedelta(seconds=reset_in)
        detail = (
            f"You have exceeded your permitted rate limit of {self.limit:,}; "
            f"please try again at {at:%Y-%m-%dT%H:%M:%S}."
        )
        return ApiError(429, "rateLimitExceeded", detail, self._headers("0", reset_in))

    def _headers(self, remaining: str, reset_in: int) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": remaining,
            "x-ratelimit-reset": str(epoch(self.clock.now()) + reset_in),
        }
