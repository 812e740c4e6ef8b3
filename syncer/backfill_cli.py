"""The body of ``callsync backfill`` (kept out of ``cli.py``): build the request, run it
with a progress display, stop cleanly on SIGINT/SIGTERM, print the summary."""

from __future__ import annotations

from datetime import UTC, datetime

from syncer import stopping
from syncer.backfill import Range, parse_instant, parse_window
from syncer.backfill_run import BackfillRequest, run_backfill
from syncer.config import CallsyncConfig
from syncer.runner import connected
from syncer.store import database
from syncer.views import output, summary
from syncer.views.progress import ProgressView, shown_for


def request(
    since: str,
    until: str | None,
    window: str,
    names: tuple[str, ...],
    route_from: str | None,
    dry_run: bool,
    *,
    force: bool = False,
) -> BackfillRequest:
    """Raises :class:`BadRangeError` for dates or a window that make no backfill."""
    start = parse_instant(since, "--since")
    end = None if until is None else parse_instant(until, "--until")
    size = parse_window(window)
    Range(start, end or datetime.now(UTC), size)  # until before since: refused up front
    return BackfillRequest(start, end, size, names, route_from, dry_run, force)


def run(config: CallsyncConfig, backfill: BackfillRequest, mode: output.Mode) -> bool:
    """Run the backfill; True if everything ran through."""
    engine = database.open_migrated(config.database.url)
    try:
        with (
            connected(config, engine) as live,
            stopping.on_signals() as stop,
            ProgressView(shown_for(mode is output.Mode.QUIET)) as view,
        ):
            report = run_backfill(
                config, engine, live, backfill, stop=stop, on_page=view.backfill_page
            )
    finally:
        engine.dispose()
    ended = summary.of_backfill(report, interrupted=stop.is_set())
    output.emit(ended, mode)
    return ended.ok
