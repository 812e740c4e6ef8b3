"""The body of ``callsync backfill`` (kept out of ``cli.py``): build the request, run it
with a progress display, stop cleanly on SIGINT/SIGTERM, print the summary."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from rich.console import Console

from syncer import plan_report, stopping
from syncer.backfill import Range, parse_instant, parse_window
from syncer.backfill_run import BackfillReport, BackfillRequest, run_backfill
from syncer.backfill_view import BackfillView, summary
from syncer.config import CallsyncConfig
from syncer.runner import connected
from syncer.store import database, runs


def request(
    since: str,
    until: str | None,
    window: str,
    names: tuple[str, ...],
    route_from: str | None,
    dry_run: bool,
) -> BackfillRequest:
    """Raises :class:`BadRangeError` for dates or a window that make no backfill."""
    start = parse_instant(since, "--since")
    end = None if until is None else parse_instant(until, "--until")
    size = parse_window(window)
    Range(start, end or datetime.now(UTC), size)  # until before since: refused up front
    return BackfillRequest(start, end, size, names, route_from, dry_run)


def run(config: CallsyncConfig, backfill: BackfillRequest) -> bool:
    """Run the backfill; True if everything ran through."""
    engine = database.create_engine(config.database.url)
    console = Console(width=160)
    try:
        database.upgrade(engine)
        with engine.begin() as conn:
            runs.close_dead(conn)
        with (
            connected(config, engine) as live,
            stopping.on_signals() as stop,
            BackfillView(console, live=sys.stdout.isatty()) as view,
        ):
            report = run_backfill(config, engine, live, backfill, stop=stop, on_page=view.on_page)
    finally:
        engine.dispose()
    _print(console, report)
    failures = report.failures() + (["interrupted"] if stop.is_set() else [])
    for failure in failures:
        click.echo(f"failed: {failure}", err=True)
    return not failures


def _print(console: Console, report: BackfillReport) -> None:
    console.print(summary(report))
    for route, targets in report.pushes.items():
        for target, stats in targets.items():
            if report.plan is None or stats.error:
                click.echo(f"route {route} => {target}: {stats.summary()}")
    if report.plan is not None:
        console.print(plan_report.as_table(report.plan))
