"""The coverage report as data: frozen dataclasses, JSON through :meth:`CoverageReport.to_dict`.

Terminal, HTML and ``--json`` all render this one model, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

# Why a call of a route's source is not in one of its targets, in the order shown.
PARKED = "parked"  # no such person in the target, several candidates, no user
IN_DOUBT = "in_doubt"  # a create may have landed, or a person must decide (needs_review)
FAILED = "failed"  # the target refused it; retried after its backoff
FILTERED = "filtered"  # the route's filters leave it out
STALE = "stale"  # the target holds an older version it cannot update
QUARANTINED = "quarantined"  # the source record could not be mapped: no call to route
SKIPPED = "skipped"  # a person decided it is not written there (`callsync writes skip`)
NOT_ATTEMPTED = "not_attempted"  # no write tried yet (the next push will)
REASONS = (PARKED, IN_DOUBT, FAILED, FILTERED, STALE, QUARANTINED, SKIPPED, NOT_ATTEMPTED)
LABELS = {
    PARKED: "parked",
    IN_DOUBT: "in doubt / needs review",
    FAILED: "failed / backing off",
    FILTERED: "filtered out",
    STALE: "stale",
    QUARANTINED: "quarantined",
    SKIPPED: "skipped by a person",
    NOT_ATTEMPTED: "not yet attempted",
}


@dataclass(frozen=True)
class Missing:
    """The calls of a route missing in one target for one reason, with a few example ids
    (call uids, for ``callsync writes list``; source record keys when quarantined)."""

    reason: str
    count: int
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetCoverage:
    target: str
    written: int  # callsync wrote (or adopted) the record
    linked: int  # an independently logged twin, matched and linked
    missing: tuple[Missing, ...]  # one per reason in REASONS, zeros included

    @property
    def complete(self) -> int:
        return self.written + self.linked

    def missing_count(self, reason: str) -> int:
        return next((m.count for m in self.missing if m.reason == reason), 0)


@dataclass(frozen=True)
class RouteCoverage:
    route: str  # as ``syncer.runner.route_name`` names it
    source: str
    source_calls: int  # calls of the source in the range (deleted ones and echoes left out)
    complete: int  # of those, the calls every target holds
    targets: tuple[TargetCoverage, ...]


@dataclass(frozen=True)
class RepStats:
    """One rep's calls held in one tool."""

    email: str  # "" when the call names no rep
    calls: int
    outcomes: Mapping[str, int]

    @property
    def connect_rate(self) -> float:
        return self.outcomes.get("connected", 0) / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class ToolCalls:
    """The calls one connection holds a record of (read from it or written into it)."""

    connection: str
    kind: str | None
    calls: int
    outcomes: Mapping[str, int]
    reps: tuple[RepStats, ...]


@dataclass(frozen=True)
class SyncLag:
    """How fresh callsync's copy of a connection is. ``pull_lag_seconds`` counts from the start
    of the last pull that ran through (as ``callsync_cursor_lag_seconds`` does): what callsync
    holds is at least that fresh. ``cursor_lag_seconds`` counts from how far its cursors read."""

    connection: str
    last_pull_started_at: datetime | None
    last_pull_finished_at: datetime | None
    read_up_to: datetime | None
    pull_lag_seconds: float | None
    cursor_lag_seconds: float | None


@dataclass(frozen=True)
class CoverageReport:
    generated_at: datetime
    since: datetime | None
    until: datetime | None
    route_from: str | None
    tools: tuple[ToolCalls, ...]
    routes: tuple[RouteCoverage, ...]
    lags: tuple[SyncLag, ...]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO 8601 strings); what ``callsync report --json`` prints."""
        data: dict[str, Any] = _jsonable(asdict(self))
        for route, model in zip(data["routes"], self.routes, strict=True):
            for target, coverage in zip(route["targets"], model.targets, strict=True):
                target["complete"] = coverage.complete
        for tool, model_tool in zip(data["tools"], self.tools, strict=True):
            for rep, model_rep in zip(tool["reps"], model_tool.reps, strict=True):
                rep["connect_rate"] = round(model_rep.connect_rate, 4)
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
