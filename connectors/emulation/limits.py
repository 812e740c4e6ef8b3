"""Rate-limit counters the emulators enforce, driven by the emulator's clock."""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta

from connectors.emulation.clock import Clock


class SlidingWindow:
    """At most ``limit`` requests in any ``window`` seconds (per key, e.g. per credential)."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: datetime) -> deque[datetime]:
        hits = self._hits.setdefault(key, deque())
        horizon = now - timedelta(seconds=self.window)
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits

    def hit(self, key: str, cost: int = 1) -> bool:
        """Record a request if it fits; False means the caller must answer 429."""
        now = self._clock.now()
        with self._lock:
            hits = self._trim(key, now)
            if len(hits) + cost > self.limit:
                return False
            hits.extend([now] * cost)
            return True

    def remaining(self, key: str) -> int:
        with self._lock:
            return max(0, self.limit - len(self._trim(key, self._clock.now())))

    def reset_in(self, key: str) -> float:
        """Seconds until the oldest hit leaves the window (0 when nothing is counted)."""
        now = self._clock.now()
        with self._lock:
            hits = self._trim(key, now)
            if not hits:
                return 0.0
            return max(0.0, (hits[0] + timedelta(seconds=self.window) - now).total_seconds())

    def reset_in_whole_seconds(self, key: str) -> int:
        return max(1, math.ceil(self.reset_in(key)))


class DailyBudget:
    """A per-day allowance of cost units (Pipedrive tokens) that resets at UTC midnight."""

    def __init__(self, budget: int, clock: Clock) -> None:
        self.budget = budget
        self._clock = clock
        self._spent: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _day(self) -> str:
        return self._clock.now().date().isoformat()

    def spend(self, key: str, cost: int) -> bool:
        with self._lock:
            slot = (key, self._day())
            spent = self._spent.get(slot, 0)
            if spent + cost > self.budget:
                return False
            self._spent[slot] = spent + cost
            return True

    def remaining(self, key: str) -> int:
        with self._lock:
            return max(0, self.budget - self._spent.get((key, self._day()), 0))

    def seconds_to_reset(self) -> int:
        now = self._clock.now()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1, math.ceil((midnight - now).total_seconds()))
