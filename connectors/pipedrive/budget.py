"""Pipedrive's daily token budget: what each request costs and when callsync must stop.

Facts (vendor-apis close-pipedrive.md §2.9, §2.11k): every company has one daily token budget
(30,000 x plan multiplier x seats, plus top-ups) shared by all its users, API tokens and OAuth
apps; each request costs its endpoint's ``x-token-cost``. Responses usually carry
``x-daily-ratelimit-token-limit`` / ``-remaining`` (integrators report them, they are
undocumented and "may be missing on some requests"). A 429 with
``x-daily-ratelimit-token-remaining: 0`` does not clear before the daily reset.

Policy: callsync leaves ``(1 - daily_budget_share)`` of the company's budget to everyone else.
It stops (:class:`BudgetExhaustedError`, a clean end of the run) before a request would take
the remaining budget below that reserve, so it never spends more than the share, and several
callsync connections of one company together stop at the same reserve. Between responses that
carry the headers, the estimate is lowered by the documented price of each request. The reset
instant is "midnight server time" (UNCONFIRMED which zone): estimates are kept per UTC day,
and the first response of a new day replaces them anyway.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from connectors.base import JsonDict
from syncer.errors import BudgetExhaustedError
from syncer.http.ratelimit import first_int

VENDOR = "pipedrive"
LIMIT_HEADER = "x-daily-ratelimit-token-limit"
REMAINING_HEADER = "x-daily-ratelimit-token-remaining"

# Documented x-token-cost per (method, path pattern) (§2.3, §2.4, §2.9).
_COSTS: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (method, re.compile(pattern), cost)
    for method, pattern, cost in (
        ("GET", r"^(/api)?/v1/callLogs$", 20),
        ("GET", r"^(/api)?/v1/callLogs/[^/]+$", 2),
        ("GET", r"^(/api)?/v1/users/me$", 2),
        ("GET", r"^(/api)?/v1/users$", 20),  # a generic v1 list
        ("GET", r"^/api/v2/activities$", 10),
        ("GET", r"^/api/v2/activities/[^/]+$", 1),
        # The write path (§2.3, §2.4, §2.9: v1 search 40, v2 search 20, v2 create roughly half
        # of v1's 10).
        ("POST", r"^(/api)?/v1/callLogs$", 10),
        ("POST", r"^(/api)?/v1/callLogs/[^/]+/recordings$", 10),
        ("DELETE", r"^(/api)?/v1/callLogs/[^/]+$", 6),
        ("PATCH", r"^/api/v2/activities/[^/]+$", 5),
        ("DELETE", r"^/api/v2/activities/[^/]+$", 3),
        ("GET", r"^(/api)?/v1/users/find$", 40),
        ("GET", r"^/api/v2/persons/search$", 20),
        ("POST", r"^/api/v2/persons$", 5),
    )
)
UNKNOWN_COST = 40  # the priciest generic v1 request (search): an unlisted path is never cheap


def token_cost(method: str, path: str) -> int:
    for known_method, pattern, cost in _COSTS:
        if method == known_method and pattern.match(path):
            return cost
    return UNKNOWN_COST


@dataclass
class DailyBudget:
    """The company's budget as callsync last saw it, and the reserve it must not touch."""

    share: float
    clock: Callable[[], datetime]
    limit: int | None = None
    remaining: int | None = None
    day: str | None = None

    def _today(self) -> str:
        return self.clock().date().isoformat()

    def load(self, saved: JsonDict | None) -> None:
        """Start from the estimate a previous run stored today (none from another day)."""
        if saved and saved.get("day") == self._today():
            self.day = self._today()
            self.limit = _int_or_none(saved.get("limit"))
            self.remaining = _int_or_none(saved.get("remaining"))

    def snapshot(self) -> JsonDict | None:
        if self.limit is None or self.remaining is None:
            return None
        return {"day": self.day, "limit": self.limit, "remaining": self.remaining}

    def reserve(self) -> float:
        assert self.limit is not None
        return (1 - self.share) * self.limit

    def ensure(self, cost: int) -> None:
        """Raise if a request of ``cost`` tokens would take the budget below the reserve."""
        if self.day != self._today():
            self.limit = self.remaining = None  # a new day: the vendor reset the budget
            self.day = self._today()
        if self.limit is None or self.remaining is None:
            return  # nothing known yet: the first response tells
        if self.remaining - cost < self.reserve():
            raise self._exhausted(f"{self.remaining} of {self.limit} tokens left today")

    def charge(self, method: str, path: str) -> float:
        """``VendorClient(cost=...)``: check and book the token price of one attempt.

        Returns the request's weight for the pacer, which is 1: Pipedrive's burst window
        counts requests (x-ratelimit-limit), while tokens count against this daily budget.
        """
        cost = token_cost(method, path)
        self.ensure(cost)
        if self.remaining is not None:
            self.remaining -= cost
        return 1.0

    def observe(self, response: httpx.Response) -> None:
        """``VendorClient(observe=...)``: learn from the headers; a budget 429 fails fast."""
        limit = first_int(response.headers.get(LIMIT_HEADER))
        remaining = first_int(response.headers.get(REMAINING_HEADER))
        if limit is not None and remaining is not None:
            self.limit, self.remaining, self.day = limit, remaining, self._today()
        if response.status_code != 429 or remaining is None:
            return
        request = response.request
        if remaining <= 0 or remaining < token_cost(request.method, request.url.path):
            # Waiting cannot help before the daily reset: end the run instead of retrying.
            raise self._exhausted(
                f"the company's daily token budget is spent (429, {remaining} left)"
            )

    def _exhausted(self, detail: str) -> BudgetExhaustedError:
        share = f"callsync keeps {math.floor((1 - self.share) * 100)}% for others"
        return BudgetExhaustedError(VENDOR, f"{detail}; {share}", resets_at=self._next_reset())

    def _next_reset(self) -> datetime:
        now = self.clock()
        return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
