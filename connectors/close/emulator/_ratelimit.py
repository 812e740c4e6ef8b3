"""Close's rate limits (close-pipedrive.md §1.10): per endpoint group, per API key and per org.

- Every admitted response carries ``ratelimit: limit=<n>, remaining=<n>, reset=<seconds>`` for
  the limit it is closest to (key or organisation), the RFC-draft format of 2023-07-21.
- The organisation limit is ``org_multiplier`` (3) times the key limit of the group.
- A 429 carries the same header (remaining=0) and the legacy body, deprecated in 2024 but
  documented as still possible: ``{"error": {"message", "rate_reset" (fractional seconds),
  "rate_limit", "rate_window", "rate_limit_type": "key"|"org", "rate_endpoint_group"}}``.
  No ``Retry-After`` or ``X-Rate-Limit-*`` headers: clients must read ``ratelimit``.
- UNCONFIRMED: the real group boundaries and numbers are unpublished ("some endpoints have
  stricter, unpublished limits"); the defaults below follow the docs' examples (20 and 40 rps).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.emulation import ApiError, Clock
from connectors.emulation.limits import SlidingWindow

DEFAULT_LIMITS: Mapping[str, int] = {
    "calls_read": 40,  # GET call list / call
    "calls_write": 20,  # POST/PUT/DELETE calls
    "events": 20,  # GET /event/
    "search": 10,  # lead/contact reads and searches (stricter, as search endpoints tend to be)
    "leads_write": 20,  # POST lead / contact
    "config": 20,  # /me/, /user/, /outcome/
}
_ORG = "organization"


@dataclass(frozen=True)
class RateSettings:
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    window_seconds: float = 1.0
    org_multiplier: int = 3


def group_hash(group: str) -> str:
    """Close reports groups as opaque hashes (``rate_endpoint_group``)."""
    return hashlib.md5(group.encode(), usedforsecurity=False).hexdigest()


class RateLimiter:
    def __init__(self, settings: RateSettings, clock: Clock) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        merged = {**DEFAULT_LIMITS, **settings.limits}
        self._key = {g: SlidingWindow(n, settings.window_seconds, clock) for g, n in merged.items()}
        self._org = {
            g: SlidingWindow(n * settings.org_multiplier, settings.window_seconds, clock)
            for g, n in merged.items()
        }

    def admit(self, group: str, api_key: str) -> dict[str, str]:
        """Count the request; the ``ratelimit`` header to send, or a 429 ``ApiError``.

        A refused request is not counted, so a key throttled by the org limit is not also
        punished against its own limit.
        """
        key_window, org_window = self._key[group], self._org[group]
        with self._lock:
            if key_window.remaining(api_key) < 1:
                raise self.exceeded(group, "key", api_key)
            if org_window.remaining(_ORG) < 1:
                raise self.exceeded(group, "org", api_key)
            key_window.hit(api_key)
            org_window.hit(_ORG)
        return {"ratelimit": self._closest(group, api_key)}

    def _closest(self, group: str, api_key: str) -> str:
        key_window, org_window = self._key[group], self._org[group]
        if org_window.remaining(_ORG) < key_window.remaining(api_key):
            return _header(org_window, _ORG)
        return _header(key_window, api_key)

    def exceeded(self, group: str, kind: str, api_key: str) -> ApiError:
        window = self._key[group] if kind == "key" else self._org[group]
        counter = api_key if kind == "key" else _ORG
        reset = round(max(window.reset_in(counter), 0.01), 2)
        body: dict[str, Any] = {
            "message": f"API call count exceeded for this period ({kind} limit).",
            "rate_reset": reset,
            "rate_limit": window.limit,
            "rate_window": _number(self.settings.window_seconds),
            "rate_limit_type": kind,
            "rate_endpoint_group": group_hash(group),
        }
        header = (
            f"limit={window.limit}, remaining=0, reset={window.reset_in_whole_seconds(counter)}"
        )
        return ApiError(429, "rate_limited", body["message"], {"ratelimit": header}, extra=body)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _header(window: SlidingWindow, counter: str) -> str:
    remaining = window.remaining(counter)
    reset = window.reset_in_whole_seconds(counter)
    return f"limit={window.limit}, remaining={remaining}, reset={reset}"
