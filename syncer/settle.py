"""What a person decides about a write the engine could not settle (``callsync writes``).

A write in ``needs_review`` (or any that did not land) is settled one at a time:
- ``adopt REMOTE_ID``: the target holds the call as that record (found by hand);
- ``recreate``: the write certainly did not land: the next push checks for a twin and creates;
- ``skip``: this call is not written into this target.
Each decision is recorded on the row with who made it and when; the next push applies it under
the target's lease like any other row.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from syncer.store import ledger

OPEN_STATES = (
    ledger.NEEDS_REVIEW,
    ledger.IN_DOUBT,
    ledger.PARKED,
    ledger.FAILED,
    ledger.STALE,
)
DECISIONS = ("adopt", "recreate", "skip")


class SettleError(Exception):
    """The decision cannot be applied (no such write, or it is already done)."""


@dataclass(frozen=True)
class Decision:
    call_uid: str
    target: str
    action: str
    remote_id: str | None = None


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


who = _who  # who decides, as ``user@host`` (``callsync review`` records it the same way)


def open_writes(engine: Engine, target: str | None, states: tuple[str, ...]) -> list[Any]:
    with engine.connect() as conn:
        return ledger.rows(conn, states or OPEN_STATES, target, limit=500)


def apply(engine: Engine, decision: Decision) -> str:
    """Record ``decision``; returns what was done, in words."""
    stamp = f"{_who()} at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    with engine.begin() as conn:
        row = ledger.get(conn, decision.call_uid, decision.target)
        if row is None:
            raise SettleError(f"no write of call {decision.call_uid} into {decision.target}")
        if row.state == ledger.DONE:
            raise SettleError(f"call {decision.call_uid} is already in {decision.target}")
        evidence = {**(row.evidence or {}), "settled_by": stamp, "decision": decision.action}
        if decision.action == "adopt":
            if not decision.remote_id:
                raise SettleError("adopt needs the remote record's id")
            # The adopted record holds what the in-doubt create sent (or something a person
            # chose): record that, so the next push writes any later edit onto it.
            written = ledger.sent_hash(row)
            ledger.admin_settle(
                conn,
                decision.call_uid,
                decision.target,
                ledger.DONE,
                kind=ledger.WRITTEN,
                remote_id=decision.remote_id,
                written_hash=written,
                reason=f"adopted {decision.remote_id} by {stamp}",
                evidence=evidence,
            )
            return f"adopted {decision.remote_id}"
        if decision.action == "recreate":
            ledger.admin_settle(
                conn,
                decision.call_uid,
                decision.target,
                ledger.FAILED,
                remote_id=None,
                reason=f"not in the target, said {stamp}: the next push creates it",
                evidence=evidence,
            )
            return "will be created by the next push"
        ledger.admin_settle(
            conn,
            decision.call_uid,
            decision.target,
            ledger.SKIPPED,
            reason=f"skipped by {stamp}",
            evidence=evidence,
        )
        return "skipped"
