"""Pipedrive's two rate limits, their headers and their 429s (vendor-apis §2.9).

- Burst: requests per API token in a rolling 2-second window (Lite API token: 20, the
  strictest documented plan, is the default). The Search API has its own 10 per 2 s window.
- Daily token budget per company: ``30,000 x plan multiplier x seats``, shared by every token of
  the company, each request costing its endpoint's documented token cost. Resets at midnight
  (the emulator uses UTC midnight). A budget 429 does not clear until the reset.
- Headers: ``x-ratelimit-limit/-remaining/-reset`` on every admitted response;
  ``x-daily-ratelimit-token-limit/-remaining`` on most (integrators report them "missing on some
  requests", so every Nth response leaves them out; always present on a budget 429).
- A client that keeps hammering after 429s gets a 403 with an HTML (Cloudflare) page [P-3p].

Counters live in memory (allowed by the brief): a restarted emulator starts a fresh window/day.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from connectors.emulation import ApiError, Clock
from connectors.emulation.limits import DailyBudget, SlidingWindow
from connectors.pipedrive.emulator.wire import CLOUDFLARE, RATE_LIMITED

COMPANY_KEY = "company"
TOKENS_PER_SEAT = 30_000

# Token cost per route, from the specs' ``x-token-cost`` (vendor-apis §2.9, §2.3, §2.4).
# Keys are ``(method, route name)``; v1 routes are named by their ``/v1/...`` template whichever
# prefix (``/v1`` or ``/api/v1``) the request used.
TOKEN_COSTS: dict[tuple[str, str], int] = {
    ("GET", "/v1/callLogs"): 20,
    ("GET", "/v1/callLogs/{id}"): 2,
    ("POST", "/v1/callLogs"): 10,
    ("POST", "/v1/callLogs/{id}/recordings"): 10,
    ("DELETE", "/v1/callLogs/{id}"): 6,
    ("GET", "/v1/users/me"): 2,
    ("GET", "/v1/users/find"): 40,  # a generic v1 search
    ("GET", "/v1/users"): 20,  # a generic v1 list
    ("GET", "/v1/users/{id}"): 2,  # a generic v1 single get
    ("GET", "/v1/persons/search"): 40,
    ("GET", "/v1/activityTypes"): 20,
    ("GET", "/api/v2/activities"): 10,
    ("GET", "/api/v2/activities/{id}"): 1,
    ("POST", "/api/v2/activities"): 5,
    ("PATCH", "/api/v2/activities/{id}"): 5,
    ("DELETE", "/api/v2/activities/{id}"): 3,
    ("GET", "/api/v2/persons/search"): 20,  # x-token-cost 20 in the v2 spec
    ("GET", "/api/v2/persons/{id}"): 1,
}

# Routes of the Search API, which has its own burst window on every plan.
SEARCH_ROUTES = frozenset({"/v1/persons/search", "/api/v2/persons/search"})

CLOUDFLARE_PAGE = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1>"
    "<p>You are unable to access api.pipedrive.com</p></body></html>"
)


@dataclass(frozen=True)
class LimitSettings:
    burst_limit: int = 20
    search_burst_limit: int = 10
    window_seconds: float = 2.0
    hammer_limit: int | None = 10  # 429s within ``hammer_window`` before the 403 page; None: off
    hammer_window: float = 10.0
    daily_headers_missing_every: int = 10  # every Nth response lacks the daily headers; 0: never


class PipedriveLimits:
    """Admits a request (returning headers) or raises the 429 / 403 Pipedrive would send."""

    def __init__(self, settings: LimitSettings, clock: Clock, budget: Callable[[], int]) -> None:
        self.settings = settings
        self._budget_size = budget
        self._burst = SlidingWindow(settings.burst_limit, settings.window_seconds, clock)
        self._search = SlidingWindow(settings.search_burst_limit, settings.window_seconds, clock)
        self._rejections = SlidingWindow(settings.hammer_limit or 1, settings.hammer_window, clock)
        self._daily = DailyBudget(budget(), clock)
        self._lock = threading.Lock()
        self._responses = 0

    def daily_remaining(self) -> int:
        self._daily.budget = self._budget_size()
        return self._daily.remaining(COMPANY_KEY)

    def spend_outside_api(self, tokens: int) -> None:
        """Spend company tokens as another integration of the company would (§2.11k)."""
        self._daily.budget = self._budget_size()
        self._daily.spend(COMPANY_KEY, min(tokens, self._daily.remaining(COMPANY_KEY)))

    def admit(self, token: str, cost: int, search: bool) -> dict[str, str]:
        with self._lock:
            self._daily.budget = self._budget_size()
            if self._daily.remaining(COMPANY_KEY) < cost:
                raise self._reject(token, self._budget_error(token))
            if not self._burst.hit(token):
                raise self._reject(token, self._burst_error(token))
            if search and not self._search.hit(token):
                raise self._reject(token, self._burst_error(token, self._search))
            self._daily.spend(COMPANY_KEY, cost)
            return self._headers(token, always_daily=False)

    def burst_error(self) -> ApiError:
        """The 429 an injected RATE_LIMIT fault answers with (a burst 429, no token known)."""
        return ApiError(
            429,
            RATE_LIMITED,
            "Request over limit",
            {
                "x-ratelimit-limit": str(self.settings.burst_limit),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(self.settings.window_seconds)),
                "retry-after": str(int(self.settings.window_seconds)),
            },
            {"errorCode": 429},
        )

    # --- internals ----------------------------------------------------------------------------

    def _headers(self, token: str, *, always_daily: bool) -> dict[str, str]:
        headers = {
            "x-ratelimit-limit": str(self.settings.burst_limit),
            "x-ratelimit-remaining": str(self._burst.remaining(token)),
            "x-ratelimit-reset": str(self._burst.reset_in_whole_seconds(token)),
        }
        self._responses += 1
        every = self.settings.daily_headers_missing_every
        if always_daily or not every or self._responses % every:
            headers["x-daily-ratelimit-token-limit"] = str(self._daily.budget)
            headers["x-daily-ratelimit-token-remaining"] = str(self._daily.remaining(COMPANY_KEY))
        return headers

    def _budget_error(self, token: str) -> ApiError:
        # No Retry-After: the budget only clears at the daily reset, so a client must fail fast
        # on x-daily-ratelimit-token-remaining instead of sleeping and retrying (§2.9).
        # UNCONFIRMED: the exact 429 body text; the error envelope with errorCode is assumed.
        headers = self._headers(token, always_daily=True)
        return ApiError(
            429, RATE_LIMITED, "Daily token budget exceeded", headers, {"errorCode": 429}
        )

    def _burst_error(self, token: str, window: SlidingWindow | None = None) -> ApiError:
        window = window or self._burst
        headers = self._headers(token, always_daily=False)
        headers["x-ratelimit-limit"] = str(window.limit)
        headers["x-ratelimit-remaining"] = "0"
        headers["x-ratelimit-reset"] = str(window.reset_in_whole_seconds(token))
        headers["retry-after"] = headers["x-ratelimit-reset"]
        return ApiError(429, RATE_LIMITED, "Request over limit", headers, {"errorCode": 429})

    def _reject(self, token: str, error: ApiError) -> ApiError:
        """Count the 429; past ``hammer_limit`` of them in the window, answer Cloudflare's 403."""
        if self.settings.hammer_limit is None or self._rejections.hit(token):
            return error
        return ApiError(403, CLOUDFLARE, CLOUDFLARE_PAGE)
