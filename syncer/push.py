"""Pushing: write each routed call into each target exactly once, through the ledger.

For every (call, target) the ledger row (``call_links``) moves through
``pending -> done`` (or ``parked`` / ``failed`` / ``stale``), and no request is sent before the
intent is committed. A create is sent once; when its answer is lost the row stays ``pending``
and the next attempt asks the target for the record by its marker and adopts it, so a call is
never logged twice. Calls the target already holds because someone logged them there
independently (same number, start and duration within tolerance) are linked, not copied.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.engine import Engine

from connectors.base import CannotUpdate, Connector, Parked, WriteOptions
from syncer.config import RouteConfig, RouteFilters
from syncer.errors import AmbiguousWriteError, TransientError, VendorError
from syncer.model import Call
from syncer.store import repo

log = structlog.get_logger("callsync.push")


@dataclass(frozen=True)
class Matching:
    """How close two independently logged calls must be to count as the same real call."""

    start_tolerance: timedelta = timedelta(seconds=60)
    duration_tolerance: int = 5


@dataclass
class PushStats:
    created: int = 0
    updated: int = 0
    adopted: int = 0  # found by marker after a lost answer
    matched: int = 0  # an independently logged twin already in the target
    parked: int = 0
    failed: int = 0
    stale: int = 0  # changed in the source, cannot be changed in the target
    recordings: int = 0
    skipped: int = 0  # filtered out by the route

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def passes(filters: RouteFilters, call: Call) -> bool:
    """Whether the route's filters let ``call`` through."""
    if filters.outcomes is not None and call.outcome not in filters.outcomes:
        return False
    if filters.directions is not None and call.direction not in filters.directions:
        return False
    if (
        filters.min_duration_seconds is not None
        and (call.duration_seconds or 0) < filters.min_duration_seconds
    ):
        return False
    if filters.user_emails is not None:
        email = (call.user.email or "").lower() if call.user else ""
        return email in {address.lower() for address in filters.user_emails}
    return True


@dataclass
class Pusher:
    """Writes the calls of one route into one target."""

    engine: Engine
    route: RouteConfig
    target: Connector
    source: Connector | None = None  # to stream recordings the source holds itself
    matching: Matching = field(default_factory=Matching)
    stats: PushStats = field(default_factory=PushStats)
    # How a recording that is only a URL is fetched (tests serve bytes without a network).
    fetch_url: Callable[[str], AbstractContextManager[Iterator[bytes]]] | None = None

    @property
    def name(self) -> str:
        return self.target.context.name

    @property
    def options(self) -> WriteOptions:
        return self.route.write.options()

    def run(self, stop: threading.Event | None = None) -> PushStats:
        after = ""
        while True:
            with self.engine.connect() as conn:
                batch = repo.routable_calls(
                    conn,
                    self.route.source,
                    self.name,
                    after=after,
                    include_stale=self.options.recreate_on_change,
                )
            if not batch:
                return self.stats
            for call, link in batch:
                after = call.call_uid
                if stop is not None and stop.is_set():
                    return self.stats
                self.handle(call, link)

    def handle(self, call: Call, link: Any) -> None:
        if not passes(self.route.filters, call):
            self.stats.skipped += 1
        elif link is None:
            self._first_write(call)
        elif link.state == "done" or link.state == "stale":
            self._rewrite(call, link)
        else:
            self._retry(call, link)

    # --- the three paths -------------------------------------------------------------------

    def _first_write(self, call: Call) -> None:
        with self.engine.begin() as conn:
            twin = repo.find_twin(
                conn,
                self.name,
                call,
                self.matching.start_tolerance,
                self.matching.duration_tolerance,
            )
            if twin is not None:
                repo.link_existing(
                    conn,
                    call.call_uid,
                    self.name,
                    twin,
                    call.content_hash(),
                    "matched a call logged independently in the target",
                )
                self.stats.matched += 1
                return
            if not repo.claim_write(conn, call.call_uid, self.name, call.call_uid):
                return  # another worker owns this write
        self._create(call)

    def _retry(self, call: Call, link: Any) -> None:
        with self.engine.begin() as conn:
            repo.retry_write(conn, call.call_uid, self.name)
        if link.state == "pending":
            # The last attempt's outcome is unknown: ask before sending anything.
            found = self._guard(call, lambda: self.target.find_by_marker(call.call_uid, call))
            if found is _FAILED:
                return
            if found is not None:
                self._complete(call, str(found))
                self.stats.adopted += 1
                return
        self._create(call)

    def _rewrite(self, call: Call, link: Any) -> None:
        resolved = self._guard(call, lambda: self.target.resolve(call, self.options))
        if resolved is _FAILED or isinstance(resolved, Parked):
            return
        try:
            self.target.update(link.remote_id, call, resolved)
        except CannotUpdate as cannot:
            self._cannot_update(call, link, cannot)
            return
        except (VendorError, AmbiguousWriteError) as error:
            self._settle(call, "failed", f"update failed: {error}")
            return
        self._complete(call, link.remote_id)
        self.stats.updated += 1

    def _cannot_update(self, call: Call, link: Any, cannot: CannotUpdate) -> None:
        if self.options.recreate_on_change and self.target.write_support.delete:
            self.target.delete(link.remote_id)
            with self.engine.begin() as conn:
                repo.retry_write(conn, call.call_uid, self.name)
            self._create(call)
            return
        self._settle(call, "stale", f"cannot update in target: {cannot.field}")
        self.stats.stale += 1

    # --- creating --------------------------------------------------------------------------

    def _create(self, call: Call) -> None:
        resolved = self._guard(call, lambda: self.target.resolve(call, self.options))
        if resolved is _FAILED:
            return
        if isinstance(resolved, Parked):
            reason = resolved.reason
            if resolved.candidates:
                reason += f" (candidates: {', '.join(resolved.candidates)})"
            with self.engine.begin() as conn:
                repo.park_write(conn, call.call_uid, self.name, reason)
            self.stats.parked += 1
            return
        try:
            written = self.target.create(call, call.call_uid, resolved)
        except AmbiguousWriteError as error:
            # The record may exist: the row stays pending and the next run asks by marker.
            log.warning("push.ambiguous", target=self.name, call=call.call_uid, error=str(error))
            return
        except VendorError as error:
            self._settle(call, "failed", f"{self.target.kind} refused the call: {error.message}")
            return
        self._complete(call, written.remote_id)
        self.stats.created += 1
        self._attach_recording(call, written.remote_id)

    def _complete(self, call: Call, remote_id: str) -> None:
        with self.engine.begin() as conn:
            repo.complete_write(conn, call.call_uid, self.name, remote_id, call.content_hash())

    def _settle(self, call: Call, state: str, reason: str) -> None:
        with self.engine.begin() as conn:
            repo.settle_write(conn, call.call_uid, self.name, state, reason)
        if state == "failed":
            self.stats.failed += 1

    def _guard(self, call: Call, action: Any) -> Any:
        """Run a look-up; a vendor refusal fails this call only (transient errors end the run)."""
        try:
            return action()
        except VendorError as error:
            self._settle(call, "failed", f"{self.target.kind} look-up failed: {error.message}")
            return _FAILED

    # --- recordings ------------------------------------------------------------------------

    def _attach_recording(self, call: Call, remote_id: str) -> None:
        if not self.target.write_support.recording_file:
            return
        stream = self._open_recording(call)
        if stream is None:
            return
        try:
            with stream as chunks:
                self.target.attach_recording(remote_id, call, chunks, "audio/mpeg")
        except (VendorError, httpx.HTTPError) as error:
            log.warning(
                "push.recording_failed", target=self.name, call=call.call_uid, error=str(error)
            )
            return
        self.stats.recordings += 1

    def _open_recording(self, call: Call) -> AbstractContextManager[Iterator[bytes]] | None:
        if self.source is not None:
            own = self.source.open_recording(call)
            if own is not None:
                return own
        if call.recording_url and call.recording_url.startswith(("https://", "http://")):
            return (self.fetch_url or stream_url)(call.recording_url)
        return None


class _Failed:
    pass


_FAILED = _Failed()


@contextmanager
def stream_url(url: str) -> Iterator[Iterator[bytes]]:
    """Stream a recording from its URL in chunks, never holding the file in memory."""
    with (
        httpx.Client(timeout=60, follow_redirects=True) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        yield response.iter_bytes(64 * 1024)


def push_route(
    engine: Engine,
    route: RouteConfig,
    targets: dict[str, Connector],
    *,
    source: Connector | None = None,
    matching: Matching | None = None,
    stop: threading.Event | None = None,
) -> dict[str, PushStats]:
    """Write the route's calls into each of its targets; a target that asks callsync to back
    off (rate limit, budget) ends its part of the run cleanly, the others go on."""
    results: dict[str, PushStats] = {}
    for name in route.targets:
        pusher = Pusher(engine, route, targets[name], source, matching or Matching())
        try:
            results[name] = pusher.run(stop)
        except TransientError as error:
            log.warning("push.aborted", target=name, error=str(error))
            results[name] = pusher.stats
    return results
