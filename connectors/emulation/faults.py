"""Deterministic fault injection: the same seed always produces the same faults.

A plan mixes random faults (a share of requests) with scripted ones (exactly the Nth matching
request), so a test can say "drop the connection after committing the next POST /calls".
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from enum import Enum


class FaultKind(Enum):
    RATE_LIMIT = "429"
    SERVER_ERROR = "5xx"
    REFUSED = "4xx"  # a client-error answer (``status``, default 404): an endpoint gone or refusing
    LATENCY = "latency"
    TIMEOUT = "timeout"
    DROP = "drop"  # connection dropped before the request is handled
    DROP_AFTER_COMMIT = "drop_after_commit"  # handled and committed, response lost
    MALFORMED = "malformed"  # a truncated, unparseable JSON body with status 200
    EXPIRE_TOKEN = "expire_token"  # noqa: S105 - the vendor forgets the access token early (OAuth vendors)


@dataclass
class ScriptedFault:
    kind: FaultKind
    method: str | None = None
    path: str | None = None  # a regular expression matched against the request path
    skip: int = 0  # let this many matching requests through first
    times: int = 1
    status: int | None = None  # SERVER_ERROR: 500, 502, 503 or 504; REFUSED: e.g. 404, 400

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or re.search(self.path, path) is not None


@dataclass
class FaultPlan:
    """Shares are probabilities per request, drawn from a generator seeded by ``seed``."""

    seed: int = 0
    rate_limit: float = 0.0
    server_error: float = 0.0
    timeout: float = 0.0
    drop: float = 0.0
    drop_after_commit: float = 0.0
    malformed: float = 0.0
    expire_token: float = 0.0  # the vendor forgets every issued access token (OAuth vendors)
    latency_ms: int = 0
    timeout_seconds: float = 5.0  # how long the loopback server stalls for a TIMEOUT
    scripted: list[ScriptedFault] = field(default_factory=list)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def script(self, kind: FaultKind, **match: object) -> ScriptedFault:
        fault = ScriptedFault(kind, **match)  # type: ignore[arg-type]
        with self._lock:
            self.scripted.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.scripted.clear()
            self.rate_limit = self.server_error = self.timeout = 0.0
            self.drop = self.drop_after_commit = self.malformed = self.expire_token = 0.0
            self.latency_ms = 0

    def draw(self, method: str, path: str) -> list[ScriptedFault]:
        """The faults that apply to this request (scripted first, then random draws)."""
        with self._lock:
            chosen = [self._take_scripted(method, path)]
            for kind, share in (
                (FaultKind.DROP, self.drop),
                (FaultKind.TIMEOUT, self.timeout),
                (FaultKind.RATE_LIMIT, self.rate_limit),
                (FaultKind.SERVER_ERROR, self.server_error),
                (FaultKind.DROP_AFTER_COMMIT, self.drop_after_commit),
                (FaultKind.MALFORMED, self.malformed),
                (FaultKind.EXPIRE_TOKEN, self.expire_token),
            ):
                if share and self._rng.random() < share:
                    status = self._rng.choice((500, 502, 503, 504))
                    chosen.append(ScriptedFault(kind, status=status))
            return [fault for fault in chosen if fault is not None]

    def _take_scripted(self, method: str, path: str) -> ScriptedFault | None:
        for fault in self.scripted:
            if fault.times <= 0 or not fault.matches(method, path):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.times -= 1
            return fault
        return None
