"""The coverage report as rich tables, for a person at a terminal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.console import Console
from rich.table import Table

from syncer.report.model import LABELS, REASONS, CoverageReport, RouteCoverage

# Short column headers for the reasons (the full labels are in the examples table).
_SHORT = {
    "parked": "parked",
    "in_doubt": "in doubt/review",
    "failed": "failed",
    "filtered": "filtered",
    "stale": "stale",
    "quarantined": "quarantined",
    "skipped": "skipped",
    "not_attempted": "not tried",
}


LAG_COLUMNS = ("connection", "last pull that ran through", "read up to", "pull lag", "cursor lag")


def print_report(report: CoverageReport, console: Console) -> None:
    console.print(heading(report))
    console.print(tools_table(report))
    for route in report.routes:
        console.print(route_table(route))
    for table in (examples_table(report), reps_table(report), lag_table(report)):
        if table.row_count:
            console.print(table)


def heading(report: CoverageReport) -> str:
    since = _when(report.since) if report.since else "the first call"
    until = _when(report.until) if report.until else "now"
    routes = f", routes from {report.route_from}" if report.route_from else ""
    return f"callsync report: calls that happened from {since} until {until}{routes}"


def mix_text(outcomes: Mapping[str, int]) -> str:
    """``connected 3, no answer 2``, the largest first."""
    ordered = sorted(outcomes.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in ordered) or "-"


def rate_text(rate: float) -> str:
    return f"{rate:.0%}"


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def tools_table(report: CoverageReport) -> Table:
    table = Table(title="calls per tool", title_justify="left")
    for column in ("tool", "kind", "calls", "outcomes"):
        table.add_column(column, justify="right" if column == "calls" else "left")
    for tool in report.tools:
        table.add_row(tool.connection, tool.kind or "?", str(tool.calls), mix_text(tool.outcomes))
    return table


def route_title(route: RouteCoverage) -> str:
    return f"route {route.route}: {route.complete} of {route.source_calls} calls in every target"


def route_table(route: RouteCoverage) -> Table:
    table = Table(title=route_title(route), title_justify="left")
    table.add_column("target")
    for column in ("complete", "written", "linked", *(_SHORT[r] for r in REASONS)):
        table.add_column(column, justify="right")
    for target in route.targets:
        counts = [target.complete, target.written, target.linked]
        counts += [target.missing_count(reason) for reason in REASONS]
        table.add_row(target.target, *(str(count) for count in counts))
    return table


def examples_table(report: CoverageReport) -> Table:
    """A few calls per missing reason, to look up with ``callsync writes list``."""
    table = Table(title="missing calls, for example", title_justify="left")
    for column in ("route", "target", "reason", "calls", "examples"):
        table.add_column(column, justify="right" if column == "calls" else "left", overflow="fold")
    for route in report.routes:
        for target in route.targets:
            for missing in target.missing:
                if missing.count:
                    ids = "\n".join(missing.examples)
                    label = LABELS[missing.reason]
                    table.add_row(route.route, target.target, label, str(missing.count), ids)
    return table


def reps_table(report: CoverageReport) -> Table:
    table = Table(title="calls per rep", title_justify="left")
    for column in ("tool", "rep", "calls", "connect rate", "outcomes"):
        table.add_column(column, justify="right" if column in ("calls", "connect rate") else "left")
    for tool in report.tools:
        for rep in tool.reps:
            table.add_row(
                tool.connection,
                rep.email or "(no rep)",
                str(rep.calls),
                rate_text(rep.connect_rate),
                mix_text(rep.outcomes),
            )
    return table


def lag_table(report: CoverageReport) -> Table:
    table = Table(title="sync lag", title_justify="left")
    for column in LAG_COLUMNS:
        table.add_column(column)
    for lag in report.lags:
        table.add_row(
            lag.connection,
            when_text(lag.last_pull_started_at, "never"),
            when_text(lag.read_up_to, "-"),
            age_text(lag.pull_lag_seconds),
            age_text(lag.cursor_lag_seconds),
        )
    return table


def when_text(stamp: datetime | None, otherwise: str) -> str:
    return otherwise if stamp is None else _when(stamp)


def _when(stamp: datetime) -> str:
    return f"{stamp:%Y-%m-%d %H:%M:%S} UTC"
