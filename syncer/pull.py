"""Pulling: stream a connector's pages into the store, one transaction per page.

Per page, in one transaction: map every record (failures go to quarantine with their reason,
the rest of the page goes on), store the changed calls and raw payloads (marked incomplete
where a label look-up failed: :func:`relabel` re-maps those on later pulls), touch the unchanged
ones, tombstone deletions, store connector state, and advance the cursor. A crash between
pages re-reads at most one page; the cursor never passes data that is not stored. Mapping and
storing are ``syncer/records.py``'s, shared with the quarantine replay: before its first page,
a pull re-maps its connection's quarantined records whose mapping inputs changed since they
were quarantined (``syncer/quarantine.py``), without a vendor request.

A lease per (connection, stream), heartbeated while the stream is read and checked (its fence
token) in every page transaction, keeps two workers from pulling the same stream; a worker that
lost its lease rolls its page back and stops. A stream another live run holds is skipped and
reported with its holder. A stop request (``syncer/stopping.py``) ends the pull after the page
being stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.engine import Connection, Engine

from connectors.base import Connector, Cursor, Page
from syncer import accepted, gcpolicy, quarantine, stopping
from syncer.errors import TransientError
from syncer.guard import SweepGuard, tombstone_unseen
from syncer.heartbeat import LEASE_TTL, current_worker, held_lease, kept
from syncer.http.client import REQUESTS_SENT
from syncer.http.explain import explain
from syncer.model import Call
from syncer.readahead import ReadAhead
from syncer.records import map_records, store_mapped
from syncer.store import leases, repo, review, runs, twins
from syncer.store.leases import LeaseBusyError, LeaseLostError
from syncer.store.twins import Tolerances

log = structlog.get_logger("callsync.pull")

__all__ = [
    "LeaseBusyError",
    "LeaseLostError",
    "OnPullPage",
    "PullProgress",
    "PullResult",
    "pull",
    "pull_stream",
]
RELABEL_BATCH = 1000  # incomplete calls re-mapped per pull at most (a backlog takes runs)
RELABEL_PAGE = 100  # ... per transaction
GUARD_WAITS = "guard trip waiting for a person"


@dataclass
class StreamStats:
    pages: int = 0
    records: int = 0
    stored: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    complete: bool = False
    guarded: str | None = None  # why the mass-change guard kept a sweep's deletions back

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PullResult:
    streams: dict[str, StreamStats] = field(default_factory=dict)
    error: str | None = None
    # stream -> who holds it: another live run reads it, this one did not (exit 1, named)
    skipped: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False  # a stop was requested: the pull ended after a stored page
    duplicates: int = 0  # new duplicate pairs found (a hand-logged call beside a copy)
    remapped: int = 0  # quarantined records that map under the changed mapping inputs
    # Why the mass-change guard held a full sweep's deletions back (a ``guard_trip`` review
    # item waits): not an error, the pull ran through, but the run needs a person (exit 1).
    guarded: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ran_through(self) -> bool:
        """Every stream was read to its end by this run."""
        return self.ok and not self.skipped and not self.interrupted


@dataclass(frozen=True)
class PullProgress:
    """Where a pull is after a stored page, for progress displays (every stream so far)."""

    connection: str
    stream: str  # the one being read
    read: int
    stored: int
    requests: int  # sent since this pull began (retries and look-ups included)


OnPullPage = Callable[[PullProgress], None]


def commit_page(
    conn: Connection,
    connector: Connector,
    stream: str,
    page: Page,
    stats: StreamStats,
    guard: SweepGuard | None = None,
) -> None:
    """Store one page and its checkpoint (the caller owns the transaction); ``guard``: the
    mass-change guard on a full sweep's deletions (None: not checked)."""
    name = connector.context.name
    mapped, failed = map_records(connector, page.records)
    stored = store_mapped(conn, connector, mapped)
    failed += stored.held
    unchanged = stored.unchanged
    # A record that fails to map was still seen: a sweep must not take it for deleted.
    repo.touch_source_records(
        conn,
        name,
        [c.source.external_id for c in unchanged] + [item.record_key for item in failed],
        alive=[c.source.external_id for c in unchanged if c.deleted_at is None],
    )
    repo.quarantine(conn, name, stream, failed, quarantine.mapping_fingerprint(connector))
    repo.resolve_quarantined(conn, name, [call.source.external_id for call in stored.calls])
    stats.deleted += repo.mark_deleted(conn, name, page.deleted)
    if page.unseen_since is not None:
        deleted, stats.guarded = tombstone_unseen(conn, name, stream, page.unseen_since, guard)
        stats.deleted += deleted
    if page.state:
        repo.put_state(conn, name, dict(page.state))
    checkpoint = page.checkpoint
    if checkpoint.completed is not None:
        repo.save_cursor(
            conn, name, stream, completed=checkpoint.completed, partial=checkpoint.partial
        )
    else:
        repo.save_cursor(conn, name, stream, partial=checkpoint.partial)
    stats.pages += 1
    stats.records += len(page.records)
    stats.stored += len(stored.changed)
    stats.unchanged += len(unchanged)
    stats.quarantined += len(failed)


def relabel(engine: Engine, connector: Connector, limit: int = RELABEL_BATCH) -> int:
    """Re-map calls stored incomplete (a label look-up failed when they were read) from their
    stored raw payloads; returns how many are complete now.

    This is where "retry later" comes from: the cursor moved past those calls (the read must
    not stall on a broken directory endpoint), so no re-read would find them again; their raw
    payload is all re-mapping needs once the look-up answers (a later run: connectors fetch
    their labels once per instance). Up to ``limit`` records per run, in one transaction per
    page; a record a pull stored again meanwhile is left to that pull's own mark.
    """
    name = connector.context.name
    with engine.connect() as conn:
        pending = repo.incomplete_records(conn, name, limit)
    fixed = 0
    for start in range(0, len(pending), RELABEL_PAGE):
        records = pending[start : start + RELABEL_PAGE]
        # Mapping may ask the vendor (a look-up, a token refresh the store records): never
        # inside the write transaction, which on SQLite would lock the store against itself.
        calls, _unmappable = map_records(connector, [record.raw for record in records])
        complete = [call for call in calls if connector.incomplete(call.raw) is None]
        with engine.begin() as conn:
            fixed += _relabel_page(conn, connector, records, complete)
    if fixed:
        log.info("pull.relabelled", connection=name, calls=fixed, left=len(pending) - fixed)
    return fixed


def _relabel_page(
    conn: Connection,
    connector: Connector,
    records: Sequence[repo.IncompleteRecord],
    complete: Sequence[Call],
) -> int:
    """Store the calls of ``records`` that mapped complete now (the others wait for a run
    whose look-up answers)."""
    name = connector.context.name
    by_id = {record.external_id: record for record in records}
    fixed = 0
    for call in complete:
        record = by_id.get(call.source.external_id)
        if record is None:
            continue
        if not repo.settle_incomplete(conn, name, record, None):
            continue  # a pull stored a newer payload meanwhile
        if record.call_uid == call.call_uid:  # not a copy filed under another call
            call = call.model_copy(update={"deleted_at": record.deleted_at})
            repo.upsert_calls(conn, accepted.on_store(conn, [call]))
        fixed += 1
    return fixed


def pull_stream(
    engine: Engine,
    connector: Connector,
    stream: str,
    *,
    stop: threading.Event | None = None,
    owner: str | None = None,
    on_page: Callable[[StreamStats], None] | None = None,
    guard: SweepGuard | None = None,
) -> StreamStats:
    """Read ``stream`` from its stored cursor to the end (or until a stop is requested);
    raises :class:`LeaseBusyError` when another live run holds it."""
    owner = owner or current_worker()
    name = connector.context.name
    halt = stop or stopping.FLAG
    stats = StreamStats()
    with held_lease(engine, f"pull:{name}:{stream}", owner, LEASE_TTL) as fence:
        with engine.connect() as conn:
            state = repo.get_cursor(conn, name, stream)
        pages = connector.read(stream, Cursor(state.completed, state.partial))
        with _pages_of(connector, pages, f"read-ahead:{name}:{stream}") as reading:
            for page in reading:
                with engine.begin() as conn:
                    leases.check(conn, fence)
                    commit_page(conn, connector, stream, page, stats, guard)
                if on_page is not None:
                    on_page(stats)
                if page.checkpoint.partial is None:
                    stats.complete = True
                if halt.is_set():
                    break
    return stats


def _pages_of(
    connector: Connector, pages: Iterator[Page], name: str
) -> AbstractContextManager[Iterator[Page]]:
    """``pages`` read one page ahead where the connector allows it (``syncer/readahead.py``)."""
    if connector.reads_ahead:
        return ReadAhead(pages, name)
    return nullcontext(pages)


def pull(
    engine: Engine,
    connector: Connector,
    *,
    stop: threading.Event | None = None,
    matching: Tolerances | None = None,
    owner: str | None = None,
    on_page: OnPullPage | None = None,
    guard: SweepGuard | None = None,
) -> PullResult:
    """Pull every stream of a connector, recorded as one sync run held by its own lease; then
    report calls logged by hand beside a copy callsync had already written here
    (``syncer/store/review.py``). ``on_page`` is told after every stored page. ``guard``: the
    mass-change guard on full sweeps' deletions; a trip is no error (the pages and cursor are
    stored): ``result.guarded`` says why the deletions wait for a person (``syncer.guard``)."""
    name = connector.context.name
    halt = stop or stopping.FLAG
    owner = owner or current_worker()
    started = datetime.now(UTC)
    with engine.begin() as conn:
        run_id, fence = runs.start_held_run(conn, name, "pull", owner, LEASE_TTL)
    result = PullResult()
    status = "ok"
    with kept(engine, fence), gcpolicy.bulk_allocations():
        try:
            status = _pull_streams(engine, connector, result, halt, owner, on_page, guard)
            # A trip holds back only the sweep's deletions: the pages and the cursor are
            # stored, so the pull ran through; the trip waits for a person (review, status).
            guarded = [s.guarded for s in result.streams.values() if s.guarded]
            result.guarded = "; ".join(guarded) or None
        except Exception as error:
            status, result.error = "failed", f"{type(error).__name__}: {explain(error)}"
            log.error("pull.failed", connection=name, error=result.error)
            raise
        finally:
            stats = {stream: s.as_dict() for stream, s in result.streams.items()}
            with engine.begin() as conn:
                pairs = twins.duplicate_pairs(conn, name, started, matching or Tolerances())
                result.duplicates = review.record_duplicates(conn, pairs)
                runs.finish_run(conn, run_id, status, stats, result.error or _notes(result))
    if result.duplicates:
        log.warning("pull.duplicate_pairs", connection=name, new=result.duplicates)
    return result


def _pull_streams(
    engine: Engine,
    connector: Connector,
    result: PullResult,
    halt: threading.Event,
    owner: str,
    on_page: OnPullPage | None = None,
    guard: SweepGuard | None = None,
) -> str:
    """Pull each stream into ``result``; the run's status."""
    name = connector.context.name
    tick = _ticker(name, result, on_page)
    try:
        # Before reading: records quarantined under other mapping inputs may map now.
        result.remapped = quarantine.retry_changed(engine, connector).mapped
        for stream in connector.streams:
            if halt.is_set():
                break
            try:
                result.streams[stream] = pull_stream(
                    engine,
                    connector,
                    stream,
                    stop=halt,
                    owner=owner,
                    on_page=tick(stream),
                    guard=guard,
                )
            except LeaseBusyError as busy:
                who = busy.holder.describe() if busy.holder else "another run"
                result.skipped[stream] = who
                log.warning("pull.stream_busy", connection=name, stream=stream, holder=who)
    except TransientError as error:  # a lost lease, an unreachable vendor, a cut-short wait
        if not halt.is_set():
            result.error = explain(error)
            log.warning("pull.aborted", connection=name, error=result.error)
            return "aborted"
    if halt.is_set():
        result.interrupted = True
        return "interrupted"
    relabel(engine, connector)
    return "busy" if result.skipped else "ok"


def _ticker(
    name: str, result: PullResult, on_page: OnPullPage | None
) -> Callable[[str], Callable[[StreamStats], None] | None]:
    """Per stream, the page hook that tells ``on_page`` the totals of the whole pull."""
    sent = REQUESTS_SENT.sent

    def for_stream(stream: str) -> Callable[[StreamStats], None] | None:
        if on_page is None:
            return None

        def tick(current: StreamStats) -> None:
            done = [s for key, s in result.streams.items() if key != stream]
            read = current.records + sum(s.records for s in done)
            stored = current.stored + sum(s.stored for s in done)
            on_page(PullProgress(name, stream, read, stored, REQUESTS_SENT.sent - sent))

        return tick

    return for_stream


def _notes(result: PullResult) -> str | None:
    """What the run's record says beside its status: streams skipped, a guard trip."""
    notes = []
    if result.skipped:
        held = "; ".join(f"{stream} held by {who}" for stream, who in result.skipped.items())
        notes.append(f"skipped: {held}")
    if result.guarded:
        notes.append(f"{GUARD_WAITS}: {result.guarded}")
    return "; ".join(notes) or None
