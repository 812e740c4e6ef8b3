"""The pusher's ledger writes: every one fenced by the target's lease, none in a dry run.

A mixin of :class:`syncer.push.Pusher` (its attributes are the pusher's): a dry run notes the
state a write would have recorded in its plan instead. While a chunk of calls is pushed
(``syncer/push_chunks.py``), ``_deferred`` collects the rows instead, and the chunk writes them
in one transaction: only rows of what was sent or decided (never an intent, which must be
durable before its create is sent, and is written by the chunk itself first).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from syncer.model import Call
from syncer.plan import TargetPlan
from syncer.push_stats import PushStats
from syncer.store import ledger
from syncer.store.leases import Fence
from syncer.store.ledger import FAILED, IN_DOUBT, NEEDS_REVIEW, PARKED, STALE, WRITTEN


class LedgerWrites:
    engine: Engine
    stats: PushStats
    plan: TargetPlan | None
    _deferred: list[dict[str, Any]] | None  # rows the chunk under way writes at its end

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def fence(self) -> Fence:
        raise NotImplementedError

    def _complete(
        self,
        call: Call,
        remote_id: str | None,
        kind: str = WRITTEN,
        written_hash: str | None = None,
        **fields: Any,
    ) -> None:
        content = call.content_hash() if written_hash is None else written_hash
        self._write(
            ledger.complete_row(call.call_uid, self.name, remote_id, content, kind=kind, **fields)
        )

    def _settle(self, call: Call, link: Any, state: str, reason: str) -> None:
        self._record(call, state, reason, attempt_count(link))
        if state == PARKED:
            self.stats.parked += 1
        else:
            self.stats.failed += 1

    def _record(self, call: Call, state: str, reason: str, failures: int, **extra: Any) -> None:
        if self.plan is not None:
            self.plan.note(_PLANNED.get(state, "fail"), call, reason)
            return
        self._write(
            ledger.settle_row(call.call_uid, self.name, state, reason, failures=failures, **extra)
        )

    def _write(self, row: dict[str, Any]) -> None:
        if self._deferred is not None:
            self._deferred.append(row)
            return
        with self.engine.begin() as conn:
            ledger.write_rows(conn, self.fence, [row])


_PLANNED = {
    PARKED: "park",
    FAILED: "fail",
    NEEDS_REVIEW: "review",
    IN_DOUBT: "review",
    STALE: "stale",
}


def attempt_count(link: Any) -> int:
    """Failed attempts in a row, counting the one being recorded."""
    return (int(link.attempts) if link is not None else 0) + 1
