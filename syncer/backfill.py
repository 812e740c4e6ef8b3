"""``callsync backfill``: a resumable historical load, oldest window first, then the push.

A backfill reads ``[since, until)`` of each connection in time windows (``--window``, 7 days
by default) through ``Connector.read_window`` (the vendor's own time filter), oldest first.
Each page is committed exactly like a pull page (``syncer.pull.commit_page``: same mapping,
quarantine, one transaction per page with its cursor), but under its own cursor
``backfill:<stream>`` and its own lease ``backfill:<connection>``: the live cursors of
``pull``/``sync`` never move, so a daemon or a cron ``sync`` goes on beside it, and two
backfills of one connection never run at once. What it loaded is then written through the
ledger (``syncer.push_route.push_route``), so nothing the daemon wrote is written twice.

The cursor: ``completed`` = ``{"since", "until", "window", "reached"}`` (every window before
``reached`` is stored); ``partial`` = ``{"window": [start, end], "page": <connector partial>}``
after a page inside a window. A backfill with the same ``since`` and window (and the same
``until``, or none given) resumes an unfinished one from there, re-reading at most one page;
given the same ``until``, a finished load is not read again (only the push runs). A load
killed hard leaves its lease behind until it expires (``LEASE_TTL``); a clean stop
(SIGINT/SIGTERM) releases it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Engine

from connectors.base import Checkpoint, Connector, Interval, JsonDict, Page
from syncer.heartbeat import LEASE_TTL, held_lease
from syncer.http.client import REQUESTS_SENT
from syncer.pull import StreamStats, commit_page
from syncer.store import leases, repo
from syncer.store.leases import Fence, LeaseBusyError

log = structlog.get_logger("callsync.backfill")

DEFAULT_WINDOW = timedelta(days=7)
VERSION = 1


class BadRangeError(ValueError):
    """The dates asked for make no backfill (exit 2)."""


@dataclass(frozen=True)
class Range:
    since: datetime
    until: datetime
    window: timedelta

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise BadRangeError("since and until must be aware datetimes (UTC)")
        if self.until <= self.since:
            raise BadRangeError(
                f"until ({self.until.isoformat()}) must be after since ({self.since.isoformat()})"
            )
        if self.window <= timedelta(0):
            raise BadRangeError("the window must be longer than zero")

    def windows(self, whole: bool = False) -> list[tuple[datetime, datetime]]:
        """The windows, oldest first (one over the range when the vendor cannot filter)."""
        if whole:
            return [(self.since, self.until)]
        found, start = [], self.since
        while start < self.until:
            end = min(start + self.window, self.until)
            found.append((start, end))
            start = end
        return found

    def marker(self, reached: datetime) -> JsonDict:
        return {
            "v": VERSION,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "window": self.window.total_seconds(),
            "reached": reached.isoformat(),
        }


@dataclass
class BackfillStats:
    """One connection's backfill, as the progress display and the summary show it."""

    connection: str
    windows: int = 0
    windows_done: int = 0
    pull: StreamStats = field(default_factory=StreamStats)
    resumed_at: datetime | None = None  # where an interrupted backfill was taken up again
    complete: bool = False
    error: str | None = None
    busy: bool = False  # another backfill of this connection holds its lease
    requests: int = 0  # sent while loading this connection (loads run one after another)
    seconds: float = 0.0  # how long loading it took


OnPage = Callable[[BackfillStats], None]


def cursor_key(stream: str) -> str:
    return f"backfill:{stream}"


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC) if value else None
    except ValueError:
        return None


def resume_range(
    stored: JsonDict | None, since: datetime, until: datetime | None, window: timedelta
) -> tuple[Range, datetime | None]:
    """This backfill's range, and where it resumes (None: it starts afresh). A backfill with
    the same since and window resumes an unfinished one, or, given the same until, a finished
    one (its load is done: only its push runs again, e.g. after a kill while pushing)."""
    now = datetime.now(UTC).replace(microsecond=0)
    fresh = Range(since, until or now, window)
    if not stored or stored.get("v") != VERSION:
        return fresh, None
    old_since, old_until = _parse(stored.get("since")), _parse(stored.get("until"))
    reached = _parse(stored.get("reached"))
    same = old_since == since and stored.get("window") == window.total_seconds()
    if not same or old_until is None or reached is None or (until and until != old_until):
        return fresh, None
    if reached >= old_until and until is None:
        return fresh, None  # that one finished: this one reads on to now
    return Range(since, old_until, window), reached


def backfill_connection(
    engine: Engine,
    connector: Connector,
    since: datetime,
    until: datetime | None,
    window: timedelta = DEFAULT_WINDOW,
    *,
    stop: threading.Event | None = None,
    on_page: OnPage | None = None,
    owner: str | None = None,
) -> BackfillStats:
    """Load ``[since, until)`` of one connection into the store, window by window, under the
    lease ``backfill:<connection>`` (heartbeated; a dead holder on this host is taken over)."""
    name = connector.context.name
    stats = BackfillStats(name)
    sent, began = REQUESTS_SENT.sent, time.monotonic()
    try:
        with held_lease(engine, f"backfill:{name}", owner, LEASE_TTL) as fence:
            run = _Run(engine, connector, stats, stop, on_page, fence)
            for stream in connector.window_streams:
                run.stream(stream, since, until, window)
                if run.stopped:
                    break
            stats.complete = stats.windows_done == stats.windows and not run.stopped
    except LeaseBusyError as busy:
        stats.busy = True
        stats.error = f"backfill:{name} is held by another backfill ({busy})"
    finally:
        stats.requests = REQUESTS_SENT.sent - sent
        stats.seconds = time.monotonic() - began
    return stats


@dataclass
class _Run:
    engine: Engine
    connector: Connector
    stats: BackfillStats
    stop: threading.Event | None
    on_page: OnPage | None
    fence: Fence

    @property
    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def stream(
        self, stream: str, since: datetime, until: datetime | None, window: timedelta
    ) -> None:
        name, key = self.connector.context.name, cursor_key(stream)
        with self.engine.begin() as conn:
            state = repo.get_cursor(conn, name, key)
            rng, resumed = resume_range(state.completed, since, until, window)
            if resumed is None:
                repo.save_cursor(conn, name, key, completed=rng.marker(since), partial=None)
        reached, partial = (since, None) if resumed is None else (resumed, state.partial)
        if resumed is not None:
            self.stats.resumed_at = resumed
            log.info("backfill.resumed", connection=name, stream=stream, at=resumed.isoformat())
        windows = rng.windows(whole=not self.connector.window_filter)
        self.stats.windows += len(windows)
        self.stats.windows_done += sum(1 for _, end in windows if end <= reached)
        for bounds in windows:
            if bounds[1] <= reached:
                continue
            if not self.window(stream, rng, bounds, _page_cursor(partial, bounds)):
                return
            partial = None
            self.stats.windows_done += 1
            if self.stopped:
                return

    def window(
        self,
        stream: str,
        rng: Range,
        bounds: tuple[datetime, datetime],
        cursor: JsonDict | None,
    ) -> bool:
        """Store one window page by page; False if ``stop`` cut it short."""
        for page in _pages(self.connector, stream, bounds, cursor):
            inside = page.checkpoint.partial
            checkpoint = Checkpoint(
                partial=None if inside is None else {"window": _stamps(bounds), "page": inside},
                completed=rng.marker(bounds[1] if inside is None else bounds[0]),
            )
            self.commit(cursor_key(stream), replace(page, checkpoint=checkpoint))
            if inside is not None and self.stopped:
                return False
        return True

    def commit(self, key: str, page: Page) -> None:
        with self.engine.begin() as conn:
            leases.check(conn, self.fence)
            commit_page(conn, self.connector, key, page, self.stats.pull)
        if self.on_page is not None:
            self.on_page(self.stats)


def _page_cursor(partial: JsonDict | None, bounds: tuple[datetime, datetime]) -> JsonDict | None:
    """The connector's position inside this window, if the stored one is of this window."""
    if not partial or partial.get("window") != _stamps(bounds):
        return None
    page = partial.get("page")
    return page if isinstance(page, dict) else None


def _pages(
    connector: Connector,
    stream: str,
    bounds: tuple[datetime, datetime],
    cursor: JsonDict | None,
) -> Iterator[Page]:
    """The window's pages, never a deletion inferred; an empty read still closes the window."""
    closed = False
    for page in connector.read_window(stream, bounds[0], bounds[1], cursor):
        closed = page.checkpoint.partial is None
        yield replace(page, unseen_since=None)
        if closed:
            return
    if not closed:
        yield Page((), Checkpoint(partial=None))


def _stamps(bounds: tuple[datetime, datetime]) -> list[str]:
    return [bounds[0].isoformat(), bounds[1].isoformat()]


def parse_instant(text: str, option: str) -> datetime:
    """A ``--since``/``--until`` value: a date (midnight UTC) or an ISO 8601 instant (UTC
    unless it names its offset)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRangeError(
            f"{option}: {text!r} is not a date (2026-01-31) or an ISO 8601 instant"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_window(text: str) -> timedelta:
    """A ``--window`` value, written like every interval in the config (``7d``, ``12h``)."""
    try:
        window = TypeAdapter(Interval).validate_python(text)
    except ValidationError:
        raise BadRangeError(f"--window: {text!r} is not an interval like 7d, 12h or 30m") from None
    if window <= timedelta(0):
        raise BadRangeError("--window must be longer than zero")
    return window
