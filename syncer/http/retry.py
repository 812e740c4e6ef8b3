"""When to retry, and how long to wait: Retry-After first, then the vendor's own reset hint,
then capped exponential backoff with full jitter. Waits are clamped; a wait past the cap ends the
run cleanly (:class:`~syncer.errors.RateLimitedError`) instead of sleeping for hours."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A rejected-before-processing answer: safe to resend even a create.
SAFE_FOR_WRITES = frozenset({429})


def answer_is_ambiguous(status: int) -> bool:
    """The one rule for a non-idempotent request (a create) that got an answer: may the vendor
    have done it anyway? A 5xx may hide a commit (the vendor failed after storing); a 429 is
    documented by all four vendors as refused before processing; other 4xx are refusals.
    Transport failures are decided in ``VendorClient._send``: a refused or timed-out *connect*
    never sent anything, every failure after that may have."""
    return status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    max_wait_seconds: float = 900.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for retry number ``attempt`` (1-based)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)

    def wait(self, attempt: int, retry_after: float | None, reset_after: float | None) -> float:
        """How long to wait before retry ``attempt``; the caller checks it against the cap."""
        if retry_after is not None:
            return max(0.0, retry_after)
        if reset_after is not None:
            # Spread clients that all wake at the reset instant (a thundering herd).
            return max(0.0, reset_after) + self.rng.uniform(0, min(1.0, self.base_seconds))
        return self.backoff(attempt)
