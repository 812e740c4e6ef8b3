"""Pulling: stream a connector's pages into the store, one transaction per page.

Per page, in one transaction: map every record (failures go to quarantine with their reason,
the rest of the page goes on), store the changed calls and raw payloads, touch the unchanged
ones, tombstone deletions, store connector state, and advance the cursor. A crash between
pages re-reads at most one page; the cursor never passes data that is not stored.

A lease per (connection, stream), renewed in every page transaction, keeps two workers from
pulling the same stream; a worker that lost its lease rolls its page back and stops.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from connectors.base import Connector, Cursor, JsonDict, Page
from syncer.errors import MappingFailure, TransientError
from syncer.model import Call
from syncer.store import ledger, repo, review, twins
from syncer.store.twins import Tolerances

log = structlog.get_logger("callsync.pull")

LEASE_TTL = timedelta(minutes=10)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
# Who holds a lease: the process, or one job of a daemon (two jobs of one process writing into
# the same target must not share a lease owner, or both would think they hold it).
_WORKER = contextvars.ContextVar("callsync_worker", default=WORKER_ID)


def current_worker() -> str:
    return _WORKER.get()


@contextmanager
def working_as(job: str) -> Iterator[None]:
    """Leases taken inside belong to ``job`` of this process, not to the process as a whole."""
    token = _WORKER.set(f"{WORKER_ID}/{job}")
    try:
        yield
    finally:
        _WORKER.reset(token)


class LeaseLostError(TransientError):
    """Another worker holds (or took over) this stream."""


@dataclass
class StreamStats:
    pages: int = 0
    records: int = 0
    stored: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    complete: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PullResult:
    streams: dict[str, StreamStats] = field(default_factory=dict)
    error: str | None = None
    busy: bool = False  # another worker holds a stream's lease: that worker does the work
    duplicates: int = 0  # new duplicate pairs found (a hand-logged call beside a copy)

    @property
    def ok(self) -> bool:
        return self.error is None


def map_records(
    connector: Connector, records: Iterable[JsonDict]
) -> tuple[list[Call], list[repo.Quarantined]]:
    """Canonical calls for the records that map; the others with the reason they do not."""
    calls: dict[str, Call] = {}
    failed: list[repo.Quarantined] = []
    for record in records:
        try:
            call = connector.to_call(record)
        except MappingFailure as failure:
            failed.append(_quarantined(connector, record, failure.reason))
        except (ValidationError, ValueError, KeyError, TypeError) as error:
            failed.append(_quarantined(connector, record, f"invalid record: {error}"))
        else:
            calls[call.call_uid] = call  # the same id twice on a page: the later copy wins
    return list(calls.values()), failed


def _quarantined(connector: Connector, record: JsonDict, reason: str) -> repo.Quarantined:
    try:
        key = connector.record_key(record)
    except (KeyError, TypeError, ValueError):
        key = f"unkeyed:{repo.raw_hash(record)[:16]}"
    return repo.Quarantined(key, record, reason)


def commit_page(
    conn: Connection, connector: Connector, stream: str, page: Page, stats: StreamStats
) -> None:
    """Store one page and its checkpoint (the caller owns the transaction)."""
    name = connector.context.name
    mapped, failed = map_records(connector, page.records)
    calls, strays = _file_copies(conn, mapped)
    failed += strays
    hashes = {call.source.external_id: repo.raw_hash(call.raw) for call in calls}
    changed = repo.changed_calls(conn, name, calls, hashes)
    changed_ids = {call.source.external_id for call in changed}
    copies = _copies(conn, name, changed)
    repo.upsert_calls(conn, [c for c in changed if c.source.external_id not in copies])
    repo.upsert_source_records(conn, changed, hashes=hashes, owners=copies)
    unchanged = [c for c in calls if c.source.external_id not in changed_ids]
    # A record that fails to map was still seen: a sweep must not take it for deleted.
    repo.touch_source_records(
        conn,
        name,
        [c.source.external_id for c in unchanged] + [item.record_key for item in failed],
        alive=[c.source.external_id for c in unchanged if c.deleted_at is None],
    )
    repo.quarantine(conn, name, stream, failed)
    repo.resolve_quarantined(conn, name, [call.source.external_id for call in calls])
    stats.deleted += repo.mark_deleted(conn, name, page.deleted)
    if page.unseen_since is not None:
        stats.deleted += repo.mark_unseen_deleted(conn, name, page.unseen_since)
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
    stats.stored += len(changed)
    stats.unchanged += len(unchanged)
    stats.quarantined += len(failed)


def _copies(conn: Connection, connection: str, calls: Sequence[Call]) -> dict[str, str]:
    """external id -> call_uid for records callsync wrote into this connection: copies of calls
    it already knows, filed under that call, never a new canonical call (and so never routed
    onward or echoed back). The marker read from the record decides, whatever the ledger says
    (a copy read back before its create was settled); the ledger covers records without one."""
    copies = ledger.written_copies(conn, connection, [c.source.external_id for c in calls])
    copies.update({c.source.external_id: c.copy_of for c in calls if c.copy_of is not None})
    return copies


def _file_copies(
    conn: Connection, calls: Sequence[Call]
) -> tuple[list[Call], list[repo.Quarantined]]:
    """Marked copies of calls this store does not know (another installation's, or a store
    rebuilt from scratch) are held in quarantine: routing them onward could duplicate them."""
    marked = {c.copy_of for c in calls if c.copy_of is not None}
    known = repo.known_calls(conn, sorted(marked))
    kept = [c for c in calls if c.copy_of is None or c.copy_of in known]
    held = [
        repo.Quarantined(
            c.source.external_id,
            c.raw,
            f"callsync's copy of call {c.copy_of}, which this store does not hold",
        )
        for c in calls
        if c.copy_of is not None and c.copy_of not in known
    ]
    return kept, held


def pull_stream(
    engine: Engine,
    connector: Connector,
    stream: str,
    *,
    stop: threading.Event | None = None,
    owner: str | None = None,
) -> StreamStats:
    """Read ``stream`` from its stored cursor to the end (or until ``stop`` is set)."""
    owner = owner or current_worker()
    name = connector.context.name
    lease = f"pull:{name}:{stream}"
    stats = StreamStats()
    with engine.begin() as conn:
        if not repo.acquire_lease(conn, lease, owner, LEASE_TTL):
            raise LeaseLostError(f"{lease} is held by another worker")
        state = repo.get_cursor(conn, name, stream)
    try:
        for page in connector.read(stream, Cursor(state.completed, state.partial)):
            with engine.begin() as conn:
                if not repo.acquire_lease(conn, lease, owner, LEASE_TTL):
                    raise LeaseLostError(f"lost {lease} to another worker")
                commit_page(conn, connector, stream, page, stats)
            if page.checkpoint.partial is None:
                stats.complete = True
            if stop is not None and stop.is_set():
                break
    finally:
        with engine.begin() as conn:
            repo.release_lease(conn, lease, owner)
    return stats


def pull(
    engine: Engine,
    connector: Connector,
    *,
    stop: threading.Event | None = None,
    matching: Tolerances | None = None,
) -> PullResult:
    """Pull every stream of a connector, recorded as one sync run; then report calls logged
    by hand beside a copy callsync had already written here (``syncer/store/review.py``)."""
    name = connector.context.name
    started = datetime.now(UTC)
    with engine.begin() as conn:
        run_id = repo.start_run(conn, name, "pull")
    result = PullResult()
    status = "ok"
    try:
        for stream in connector.streams:
            result.streams[stream] = pull_stream(engine, connector, stream, stop=stop)
            if stop is not None and stop.is_set():
                status = "aborted"
                break
    except LeaseLostError as error:
        status, result.busy = "busy", True
        log.info("pull.busy", connection=name, reason=str(error))
    except TransientError as error:
        status, result.error = "aborted", str(error)
        log.warning("pull.aborted", connection=name, error=str(error))
    except Exception as error:
        status, result.error = "failed", f"{type(error).__name__}: {error}"
        log.error("pull.failed", connection=name, error=result.error)
        raise
    finally:
        stats = {stream: s.as_dict() for stream, s in result.streams.items()}
        with engine.begin() as conn:
            pairs = twins.duplicate_pairs(conn, name, started, matching or Tolerances())
            result.duplicates = review.record_duplicates(conn, pairs)
            repo.finish_run(conn, run_id, status, stats, result.error)
    if result.duplicates:
        log.warning("pull.duplicate_pairs", connection=name, new=result.duplicates)
    return result
