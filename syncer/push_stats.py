"""What one target's push did, counted: the numbers ``status``, the views and metrics show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PushStats:
    created: int = 0
    updated: int = 0
    adopted: int = 0  # found by marker after a lost answer
    matched: int = 0  # the target already holds the call (a twin, or a sibling's record)
    parked: int = 0
    failed: int = 0
    stale: int = 0  # changed in the source, cannot be changed in the target
    in_doubt: int = 0  # may have landed: the next attempt asks by marker
    needs_review: int = 0
    recordings: int = 0
    skipped: int = 0  # filtered out by the route
    deleted: int = 0  # copies deleted: their call was deleted at the source (propagate)
    marked: int = 0  # copies whose note now says the call was deleted at the source (mark)
    error: str | None = None  # why this target's part stopped early (None: it ran through)
    busy: str | None = None  # who holds the target (another live run): nothing was tried
    interrupted: bool = False  # a stop was requested: it ended at a write boundary

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        """One line for people: ``created 3, matched 1`` and why it stopped early, if it did."""
        if self.busy:
            return f"skipped: held by {self.busy} (another callsync run is writing into it)"
        flags = ("error", "busy", "interrupted")
        counts = {k: v for k, v in self.as_dict().items() if k not in flags and v}
        text = (
            ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()) or "nothing to write"
        )
        if self.interrupted:
            text += " (interrupted)"
        return text + (f" (stopped early: {self.error})" if self.error else "")
