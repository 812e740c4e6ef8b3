"""How ``pull``, ``sync`` and ``backfill`` end: one summary, built from what the engine
reports, for every way it is shown (``syncer/views/output.py``).

Per connection: calls read, stored, quarantined, deleted, requests, seconds, status; per route
target: created, updated, linked (a twin already there), parked, in doubt, failed, status.
``failures`` names every part that failed or was cut short: non-empty means exit 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncer.backfill import BackfillStats
from syncer.backfill_run import BackfillReport
from syncer.plan import SyncPlan
from syncer.pull import GUARD_WAITS, PullResult
from syncer.push_stats import PushStats
from syncer.runner import Cost, SyncReport


@dataclass
class ConnectionRow:
    name: str
    read: int = 0
    stored: int = 0
    quarantined: int = 0
    deleted: int = 0
    requests: int = 0
    seconds: float = 0.0
    status: str = "ok"
    ok: bool = True
    windows: str | None = None  # a backfill's windows done of all
    detail: dict[str, Any] = field(default_factory=dict)  # per stream, for --json


@dataclass
class TargetRow:
    route: str
    target: str
    stats: PushStats
    status: str
    ok: bool

    @property
    def label(self) -> str:
        return f"route {self.route} => {self.target}"


@dataclass
class Line:
    """A plain line of the summary, as ``callsync sync`` has always printed them (scripts and
    the chaos harness read ``route ... => T: created N`` from stdout)."""

    text: str
    problem: bool  # printed on stderr, and kept under --quiet


@dataclass
class RunSummary:
    command: str
    connections: list[ConnectionRow] = field(default_factory=list)
    targets: list[TargetRow] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    plan: SyncPlan | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures


INTERRUPTED = (
    "interrupted: stopped at a page or write boundary; what was read or written is recorded "
    "and the next run goes on from there"
)


def of_sync(command: str, report: SyncReport, plan: SyncPlan | None = None) -> RunSummary:
    summary = RunSummary(command, plan=plan, interrupted=report.interrupted)
    for name, result in report.pulls.items():
        row = _pulled(name, result, report.costs.get(name, Cost()))
        summary.connections.append(row)
        text = pull_line(result) if isinstance(result, PullResult) else f"failed: {result}"
        problem = not _ran_through(result) or _guarded(result)
        summary.lines.append(Line(f"{name}: {text}", problem=problem))
    _add_targets(summary, report.pushes)
    summary.lines += [
        Line(f"skipped: {held} (another callsync run is working on it)", problem=True)
        for held in report.busy()
    ]
    if report.interrupted:
        summary.lines.append(Line(INTERRUPTED, problem=True))
    summary.failures = [row.name for row in summary.connections if not row.ok]
    summary.failures += [row.label for row in summary.targets if not row.ok]
    if report.interrupted:
        summary.failures.append("interrupted")
    return summary


def of_backfill(report: BackfillReport, interrupted: bool) -> RunSummary:
    summary = RunSummary("backfill", plan=report.plan, interrupted=interrupted)
    summary.connections = [_loaded(name, stats) for name, stats in report.loads.items()]
    _add_targets(summary, report.pushes)
    summary.failures = report.failures() + (["interrupted"] if interrupted else [])
    summary.lines += [Line(f"failed: {failure}", problem=True) for failure in summary.failures]
    return summary


def _ran_through(result: PullResult | str) -> bool:
    return isinstance(result, PullResult) and result.ran_through


def _guarded(result: PullResult | str) -> bool:
    return isinstance(result, PullResult) and result.guarded is not None


def pull_line(result: PullResult) -> str:
    parts = [
        f"{stream} read {s.records}, stored {s.stored}, quarantined {s.quarantined}, "
        f"deleted {s.deleted}"
        for stream, s in result.streams.items()
    ]
    parts += [f"{stream} skipped: held by {who}" for stream, who in result.skipped.items()]
    text = "; ".join(parts) or "nothing to read"
    if result.interrupted:
        text += " (interrupted)"
    if result.guarded:
        text += f" ({GUARD_WAITS}: {result.guarded})"
    return text + (f" (stopped early: {result.error})" if result.error else "")


def _pulled(name: str, result: PullResult | str, cost: Cost) -> ConnectionRow:
    row = ConnectionRow(name, requests=cost.requests, seconds=round(cost.seconds, 3))
    if isinstance(result, str):
        row.status, row.ok = f"failed: {result}", False
        return row
    for stream in result.streams.values():
        row.read += stream.records
        row.stored += stream.stored
        row.quarantined += stream.quarantined
        row.deleted += stream.deleted
    row.detail = {
        "streams": {stream: s.as_dict() for stream, s in result.streams.items()},
        "skipped": dict(result.skipped),
        "duplicate_pairs": result.duplicates,
    }
    row.status, row.ok = _pull_status(result), result.ran_through and not result.guarded
    return row


def _pull_status(result: PullResult) -> str:
    if result.error:
        return f"stopped early: {result.error}"
    if result.skipped:
        return "skipped: " + "; ".join(f"{s} held by {w}" for s, w in result.skipped.items())
    if result.interrupted:
        return "interrupted"
    if result.guarded:
        return f"{GUARD_WAITS}: {result.guarded}"
    pairs = result.duplicates
    return "ok" + (f" ({pairs} duplicate pairs for review)" if pairs else "")


def _loaded(name: str, s: BackfillStats) -> ConnectionRow:
    status = "done" if s.complete else f"incomplete: {s.error or 'stopped'}"
    if s.resumed_at is not None:
        status += f" (resumed at {s.resumed_at.isoformat()})"
    return ConnectionRow(
        name,
        read=s.pull.records,
        stored=s.pull.stored,
        quarantined=s.pull.quarantined,
        deleted=s.pull.deleted,
        requests=s.requests,
        seconds=round(s.seconds, 3),
        status=status,
        ok=s.complete,
        windows=f"{s.windows_done}/{s.windows}",
        detail={"resumed_at": s.resumed_at, "busy": s.busy},
    )


def _add_targets(summary: RunSummary, pushes: dict[str, dict[str, PushStats]]) -> None:
    for route, targets in pushes.items():
        for target, stats in targets.items():
            row = TargetRow(route, target, stats, _push_status(stats), _pushed_through(stats))
            summary.targets.append(row)
            if summary.plan is None or not row.ok:  # a dry run's counts are in its plan
                summary.lines.append(Line(f"{row.label}: {stats.summary()}", not row.ok))


def _pushed_through(stats: PushStats) -> bool:
    return not (stats.error or stats.busy or stats.interrupted)


def _push_status(stats: PushStats) -> str:
    if stats.busy:
        return f"skipped: held by {stats.busy}"
    if stats.error:
        return f"stopped early: {stats.error}"
    if stats.interrupted:
        return "interrupted"
    waiting = {"adopted": stats.adopted, "need review": stats.needs_review, "stale": stats.stale}
    extra = ", ".join(f"{what} {n}" for what, n in waiting.items() if n)
    return "ok" + (f" ({extra})" if extra else "")
