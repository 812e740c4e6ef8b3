"""What ``callsync backfill`` shows while it runs and when it ends.

On a terminal: a rich progress bar per connection over its windows (calls read and stored,
requests sent and requests per second, ETA). Otherwise (cron, CI, a pipe): one plain line per
connection every ``LOG_EVERY`` seconds. At the end: a summary table.
"""

from __future__ import annotations

import time
from types import TracebackType

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from syncer.backfill import BackfillStats
from syncer.backfill_run import BackfillReport
from syncer.http.client import REQUESTS_SENT

LOG_EVERY = 10.0  # seconds between plain progress lines


class BackfillView:
    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.live = live
        self.started = time.monotonic()
        self.requests_at_start = REQUESTS_SENT.sent
        self.last_line: dict[str, float] = {}
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} windows"),
            TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> BackfillView:
        if self.live:
            self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live:
            self.progress.stop()

    def detail(self, stats: BackfillStats) -> str:
        sent = REQUESTS_SENT.sent - self.requests_at_start
        rate = sent / max(time.monotonic() - self.started, 1e-6)
        return (
            f"read {stats.pull.records}, stored {stats.pull.stored}, requests {sent} ({rate:.1f}/s)"
        )

    def on_page(self, stats: BackfillStats) -> None:
        if self.live:
            self._advance(stats)
            return
        now = time.monotonic()
        if now - self.last_line.get(stats.connection, 0.0) >= LOG_EVERY:
            self.last_line[stats.connection] = now
            click.echo(
                f"backfill {stats.connection}: window {stats.windows_done}/{stats.windows}, "
                + self.detail(stats)
            )

    def _advance(self, stats: BackfillStats) -> None:
        task = self.tasks.get(stats.connection)
        if task is None:
            task = self.progress.add_task(stats.connection, total=stats.windows, detail="")
            self.tasks[stats.connection] = task
        self.progress.update(
            task, total=stats.windows, completed=stats.windows_done, detail=self.detail(stats)
        )


def summary(report: BackfillReport) -> Table:
    table = Table(title="backfill")
    for column in ("connection", "windows", "read", "stored", "quarantined", "requests", "status"):
        table.add_column(column)
    for name, s in report.loads.items():
        status = "done" if s.complete else f"incomplete: {s.error or 'stopped'}"
        if s.resumed_at is not None:
            status += f" (resumed at {s.resumed_at.isoformat()})"
        table.add_row(
            name,
            f"{s.windows_done}/{s.windows}",
            str(s.pull.records),
            str(s.pull.stored),
            str(s.pull.quarantined),
            str(s.requests),
            status,
        )
    return table
