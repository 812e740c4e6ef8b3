"""What ``pull``, ``sync`` and ``backfill`` show while they run: a line per connection.

On a terminal (stderr is a TTY): a rich progress line per connection (calls read and stored
so far, requests sent and their rate, what it is reading; a bar over the windows for a
backfill). Otherwise (cron, CI, a pipe): a plain line per connection on stderr at most every
``LOG_EVERY`` seconds, so short runs say nothing and long ones show they are alive. Quiet:
nothing. stdout is left to results (``--json`` prints one object there).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from syncer.backfill import BackfillStats
from syncer.http.client import REQUESTS_SENT
from syncer.pull import PullProgress

LOG_EVERY = 10.0  # seconds between plain progress lines of one connection


class Shown(Enum):
    LIVE = "live"  # rich, redrawn in place
    PLAIN = "plain"  # a line now and then
    NOTHING = "nothing"


def shown_for(quiet: bool) -> Shown:
    if quiet:
        return Shown.NOTHING
    return Shown.LIVE if sys.stderr.isatty() else Shown.PLAIN


@dataclass
class Where:
    """One connection's progress, as last told."""

    read: int = 0
    stored: int = 0
    requests: int = 0
    activity: str = ""
    windows: int | None = None  # a backfill's windows, and how many are done
    windows_done: int = 0
    started: float = 0.0


class ProgressView:
    """Give :meth:`pull_page` to ``sync_once``/``pull``, :meth:`backfill_page` to a backfill."""

    def __init__(
        self,
        shown: Shown,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shown = shown
        self.console = console or Console(stderr=True)
        self.clock = clock
        self.where: dict[str, Where] = {}
        self.last_line: dict[str, float] = {}
        # Backfills do not count requests per page: a connection's start from the counter
        # where the previous one left it (loads run one at a time).
        self._sent_before = self._sent_seen = REQUESTS_SENT.sent
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[windows]}"),
            TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,  # the summary table follows
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressView:
        if self.shown is Shown.LIVE:
            self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.shown is Shown.LIVE:
            self.progress.stop()

    def pull_page(self, at: PullProgress) -> None:
        where = self._of(at.connection)
        where.read, where.stored, where.requests = at.read, at.stored, at.requests
        where.activity = f"reading {at.stream}"
        self._show(at.connection, where)

    def backfill_page(self, stats: BackfillStats) -> None:
        where = self._of(stats.connection)
        where.read, where.stored = stats.pull.records, stats.pull.stored
        where.requests = REQUESTS_SENT.sent - self._sent_before
        where.windows, where.windows_done = stats.windows, stats.windows_done
        where.activity = f"window {stats.windows_done + 1}/{stats.windows}"
        self._show(stats.connection, where)

    def _of(self, connection: str) -> Where:
        if connection not in self.where:
            self.where[connection] = Where(started=self.clock())
            self.last_line[connection] = self.clock()
            self._sent_before = self._sent_seen
        self._sent_seen = REQUESTS_SENT.sent
        return self.where[connection]

    def detail(self, where: Where) -> str:
        rate = where.requests / max(self.clock() - where.started, 1e-6)
        return (
            f"read {where.read}, stored {where.stored}, requests {where.requests} "
            f"({rate:.1f}/s), {where.activity}"
        )

    def _show(self, connection: str, where: Where) -> None:
        if self.shown is Shown.LIVE:
            self._redraw(connection, where)
        elif self.shown is Shown.PLAIN:
            now = self.clock()
            if now - self.last_line[connection] >= LOG_EVERY:
                self.last_line[connection] = now
                click.echo(f"{connection}: {self.detail(where)}", err=True)

    def _redraw(self, connection: str, where: Where) -> None:
        task = self.tasks.get(connection)
        if task is None:
            task = self.progress.add_task(connection, total=where.windows, windows="", detail="")
            self.tasks[connection] = task
        windows = "" if where.windows is None else f"{where.windows_done}/{where.windows} windows"
        self.progress.update(
            task,
            total=where.windows,
            completed=where.windows_done,
            windows=windows,
            detail=self.detail(where),
        )
