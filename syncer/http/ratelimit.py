"""Rate-limit hints from response headers, and pacing so callsync stays under the limits.

Vendors say how much is left in different ways (Close ``ratelimit: limit=, remaining=, reset=``,
Outreach ``X-RateLimit-*``, Pipedrive ``x-ratelimit-*`` and a daily token budget, Amplemarket
nothing). Each connector turns its headers into a :class:`RateLimitHint`; the :class:`Pacer`
of the credential uses the hints and a fixed floor rate to space requests out *before* the
vendor has to answer 429.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from syncer import stopping


@dataclass(frozen=True)
class RateLimitHint:
    """What a response says about the limit it counted against (all optional)."""

    remaining: int | None = None
    reset_after: float | None = None  # seconds until the window resets
    limit: int | None = None


HintParser = Callable[[httpx.Headers], RateLimitHint | None]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delay-seconds or an HTTP-date; malformed values are ignored."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def first_int(value: str | None) -> int | None:
    """The first integer of a header value (``"9999, 19988"`` -> 9999); None if there is none."""
    if value is None:
        return None
    found = re.search(r"-?\d+", value)
    return int(found.group()) if found else None


def draft_hint(headers: httpx.Headers) -> RateLimitHint | None:
    """The generic fallback: IETF draft ``RateLimit-Remaining``/``-Reset``/``-Limit`` fields."""
    remaining = first_int(headers.get("ratelimit-remaining"))
    reset = first_int(headers.get("ratelimit-reset"))
    if remaining is None and reset is None:
        return None
    return RateLimitHint(
        remaining,
        None if reset is None else float(reset),
        first_int(headers.get("ratelimit-limit")),
    )


class Pacer:
    """Spaces requests of one credential: a token bucket at ``rate`` per second with ``burst``,
    slowed further when the vendor reports little remaining before its reset.

    Thread-safe; one instance per credential is shared by every client using it.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._hold_until = 0.0
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds to wait before a request of ``cost`` may go (and reserve it)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= cost
            deficit = max(0.0, -self._tokens / self.rate) if self._tokens < 0 else 0.0
            return max(deficit, self._hold_until - now)

    def headroom(self) -> float:
        """The share of the burst that could go out right now (0: every request waits)."""
        with self._lock:
            self._refill(self._clock())
            return max(0.0, self._tokens) / self.burst

    def acquire(self, cost: float = 1.0) -> float:
        wait = self.wait_time(cost)
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, hint: RateLimitHint | None) -> None:
        """Learn from a response: nothing left means hold every request until the reset."""
        if hint is None or hint.remaining is None:
            return
        with self._lock:
            now = self._clock()
            if hint.remaining <= 0 and hint.reset_after is not None:
                self._hold_until = max(self._hold_until, now + hint.reset_after)
            elif hint.reset_after and hint.remaining < self._tokens:
                # Fewer requests left than our bucket would allow: shrink the bucket.
                self._tokens = float(hint.remaining)

    def hold(self, seconds: float) -> None:
        """Stop every request of this credential for ``seconds`` (after a 429)."""
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)


class PacerRegistry:
    """One :class:`Pacer` per credential, shared by every client that uses the credential.

    The engine keeps one registry per process; tests make their own (with a fake clock).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = stopping.sleep,  # pacing ends when a stop is requested
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._pacers: dict[str, Pacer] = {}
        self._lock = threading.Lock()

    def get(self, key: str, rate: float, burst: float) -> Pacer:
        """The pacer of credential ``key`` (created with ``rate``/``burst`` on first use)."""
        with self._lock:
            pacer = self._pacers.get(key)
            if pacer is None:
                pacer = Pacer(rate, max(1, math.floor(burst)), clock=self._clock, sleep=self._sleep)
                self._pacers[key] = pacer
            return pacer

    def headroom(self) -> dict[str, float]:
        """credential key (a fingerprint, never the secret) -> :meth:`Pacer.headroom`."""
        with self._lock:
            pacers = dict(self._pacers)
        return {key: pacer.headroom() for key, pacer in pacers.items()}


PROCESS_PACERS = PacerRegistry()
