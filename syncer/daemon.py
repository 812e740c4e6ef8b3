"""``callsync run``: the scheduled daemon. The only module that imports APScheduler (3.x).

One job per connection: pull it, and once that pull ran through, push every route out of it.
The interval is the connection's ``every`` (else ``schedule.default_every``), jittered by up
to a tenth (at most 30 s) so connections and replicas do not fire in step. A job never runs
twice at once (``max_instances=1``); runs missed while the process was busy or asleep are
coalesced into one and run late rather than dropped (grace: one interval).

**Failures** stay in their job: a pull that fails or is cut short moves that job's next run
out, doubling from its interval up to ``schedule.max_backoff``, and the error is stored for
``status`` (state key ``daemon`` of the connection). Writes into a target whose own pull is
failing wait (they would match twins against stale data). The other jobs go on.

**Replicas** (several ``callsync run`` on one PostgreSQL database): a job first takes the
lease ``job:<connection>``, heartbeated while it runs and expiring after :data:`JOB_LEASE_TTL`
when its holder dies; a replica that finds it held skips that tick. The engine's own fenced
leases (per pulled stream and per written target) keep every cursor and ledger write single-
writer even if a lease is lost mid-job. On SQLite a second daemon refuses to start (a file
lock beside the database); one-off commands still work beside a running daemon.

**Stopping**: the first SIGTERM or SIGINT stops scheduling and sets the stop flag the engine
checks at every page and write boundary; running jobs get ``schedule.shutdown_grace`` to
commit, then the process exits 0 (1 if a job was still running). A second signal exits at
once: every page and every ledger write is its own transaction, so nothing is half-written.
SIGHUP does not reload the config (a log line says to restart).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import httpx
import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlalchemy.engine import Engine

from connectors.base import Connector
from syncer import metrics, stopping
from syncer.config import CallsyncConfig, RouteConfig
from syncer.connections import build_connector
from syncer.guard import SweepGuard
from syncer.heartbeat import WORKER_ID, held_lease, working_as
from syncer.pull import pull
from syncer.runner import matching_of, push_one_route, route_name
from syncer.store import repo
from syncer.store.leases import LeaseBusyError
from syncer.store.singleton import DaemonLock

log = structlog.get_logger("callsync.daemon")

JOB_LEASE_TTL = timedelta(seconds=30)  # a dead replica's connections move on within this
HEALTHY_INTERVALS = 3  # /healthz fails when a job has not completed within this many intervals
MAX_WORKERS = 8

TransportFor = Callable[[str], httpx.BaseTransport | None]


@dataclass
class JobState:
    """What the daemon knows about one connection's job (also stored for ``status``)."""

    connection: str
    every_seconds: float
    failures: int = 0  # in a row
    last_started: str | None = None
    last_finished: str | None = None
    last_ok: str | None = None
    last_error: str | None = None
    next_attempt: str | None = None

    @property
    def failing(self) -> bool:
        return self.failures > 0


class Daemon:
    """The scheduler, its jobs and their state; :func:`serve` runs one until signalled."""

    def __init__(
        self,
        config: CallsyncConfig,
        engine: Engine,
        *,
        transport_for: TransportFor | None = None,
        replica: str = WORKER_ID,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.replica = replica
        self._transport_for = transport_for
        self.jobs = {
            name: JobState(name, config.every(name).total_seconds()) for name in config.connections
        }
        # Set once: every job stops at its next page or write boundary.
        self.stopping = stop if stop is not None else threading.Event()
        self._running: set[str] = set()
        self._idle = threading.Condition()
        self._started_at = time.monotonic()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(min(MAX_WORKERS, len(self.jobs) or 1))},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    # --- scheduling ---------------------------------------------------------------------

    def start(self) -> None:
        now = datetime.now(UTC)
        for index, (name, job) in enumerate(self.jobs.items()):
            every = job.every_seconds
            self._scheduler.add_job(
                self.run_job,
                IntervalTrigger(seconds=every, jitter=min(30.0, every / 10)),
                args=[name],
                id=f"pull:{name}",
                name=f"pull {name}",
                next_run_time=now + timedelta(seconds=index * 0.5),  # staggered first runs
                misfire_grace_time=max(1, int(every)),
            )
        self._scheduler.start()
        log.info("daemon.started", jobs=len(self.jobs), replica=self.replica)

    def shutdown(self, grace: float) -> bool:
        """Stop scheduling, ask running jobs to stop, wait up to ``grace`` seconds for them;
        whether every job finished."""
        self.stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace
        with self._idle:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            still = sorted(self._running)
        if still:
            log.error("daemon.grace_exceeded", running=still, grace=grace)
        return not still

    # --- one job ------------------------------------------------------------------------

    def run_job(self, name: str) -> None:
        """Pull ``name``, then push the routes out of it; never raises (APScheduler would only
        log it): the outcome goes into the job's state, the metrics and the log."""
        if self.stopping.is_set():
            return
        with (
            structlog.contextvars.bound_contextvars(job=f"pull:{name}", run=uuid.uuid4().hex[:8]),
            working_as(f"pull:{name}"),
            self._tracked(name),
        ):
            try:
                # Heartbeated while the job runs; taken over at once from a replica that died
                # on this host, after JOB_LEASE_TTL from one that died elsewhere.
                with held_lease(self.engine, f"job:{name}", self.replica, JOB_LEASE_TTL):
                    self._run_held(name)
            except LeaseBusyError as busy:
                log.info("job.skipped", connection=name, reason=str(busy))

    def _run_held(self, name: str) -> None:
        started, wall = time.monotonic(), time.time()
        job = self.jobs[name]
        job.last_started = _stamp()
        try:
            error = self._cycle(name, wall)
        except Exception as failure:  # noqa: BLE001 - a job's failure stays in the job
            error = f"{type(failure).__name__}: {failure}"
        self._finish(job, error)
        metrics.record_job(f"pull:{name}", time.monotonic() - started, error is None)

    def _cycle(self, name: str, wall: float) -> str | None:
        """One pull and its pushes; the pull's error (what makes the job back off), if any."""
        routes = [(i, r) for i, r in enumerate(self.config.routes) if r.source == name]
        needed = [name, *sorted({t for _, route in routes for t in route.targets} - {name})]
        with self._connectors(needed) as live:
            result = pull(
                self.engine,
                live[name],
                stop=self.stopping,
                matching=matching_of(self.config),
                guard=SweepGuard(self.config.guard),  # no --force here: change the config
            )
            metrics.record_pull(name, result, wall)
            log.info("job.pulled", connection=name, **_pull_counts(result))
            if result.error is not None:
                return result.error
            if result.interrupted or self.stopping.is_set():
                return None
            for index, route in routes:
                self._push(index, route, live)
        return None

    def _push(self, index: int, route: RouteConfig, live: dict[str, Connector]) -> None:
        key = f"{index}: {route_name(route)}"
        failing = {t: f"{self.jobs[t].last_error}" for t in route.targets if self.jobs[t].failing}
        results = push_one_route(
            self.config, self.engine, live, route, unread=failing, stop=self.stopping
        )
        for target, stats in results.items():
            metrics.record_push(key, target, stats)
            counts = {k: v for k, v in stats.as_dict().items() if v and k != "error"}
            if stats.error:
                log.warning("job.push_stopped", route=key, target=target, error=stats.error)
            log.info("job.pushed", route=key, target=target, **counts)

    def _finish(self, job: JobState, error: str | None) -> None:
        job.last_finished = _stamp()
        if error is None:
            job.failures, job.last_error, job.last_ok = 0, None, job.last_finished
            job.next_attempt = None
        else:
            job.failures += 1
            job.last_error = error
            delay = self.backoff(job)
            job.next_attempt = _stamp(delay)
            self._reschedule(job.connection, delay)
            log.warning("job.failed", connection=job.connection, error=error, retry_in=round(delay))
        with self.engine.begin() as conn:
            repo.put_state(conn, job.connection, {"daemon": asdict(job)})

    def backoff(self, job: JobState) -> float:
        """Seconds to the next attempt after ``job.failures`` failures in a row: the interval,
        doubling per failure, capped, with a little jitter so replicas do not retry in step."""
        cap = self.config.schedule.max_backoff.total_seconds()
        delay: float = min(cap, job.every_seconds * 2.0 ** (job.failures - 1))
        return delay * random.uniform(0.9, 1.0)

    def _reschedule(self, name: str, delay: float) -> None:
        if self.stopping.is_set() or not self._scheduler.running:
            return
        when = datetime.now(UTC) + timedelta(seconds=delay)
        self._scheduler.modify_job(f"pull:{name}", next_run_time=when)

    @contextmanager
    def _connectors(self, names: list[str]) -> Iterator[dict[str, Connector]]:
        """Fresh connectors for one job (closed after it), each with its requests counted.
        Pacers are per credential and per process, so two jobs writing into one vendor share
        its rate limit."""
        with ExitStack() as stack:
            live: dict[str, Connector] = {}
            for name in names:
                inner = self._transport_for(name) if self._transport_for else None
                transport = metrics.CountingTransport(name, inner or httpx.HTTPTransport())
                live[name] = build_connector(self.config, name, self.engine, transport=transport)
                stack.callback(live[name].close)
            yield live

    @contextmanager
    def _tracked(self, name: str) -> Iterator[None]:
        with self._idle:
            self._running.add(name)
        try:
            yield
        finally:
            with self._idle:
                self._running.discard(name)
                self._idle.notify_all()

    # --- health ------------------------------------------------------------------------

    def ready(self) -> bool:
        return bool(self._scheduler.running) and not self.stopping.is_set()

    def health_problems(self) -> list[str]:
        problems = []
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - any failure means "database unreachable"
            problems.append(f"database unreachable: {type(error).__name__}")
        now = time.time()
        for job in self.jobs.values():
            allowed = HEALTHY_INTERVALS * job.every_seconds + self.backoff_allowance(job)
            since = _epoch(job.last_finished) or (now - (time.monotonic() - self._started_at))
            if now - since > allowed:
                problems.append(
                    f"job pull:{job.connection} has not completed for {now - since:.0f} s"
                )
        return problems

    def backoff_allowance(self, job: JobState) -> float:
        return self.backoff(job) if job.failing else 0.0


def _pull_counts(result: Any) -> dict[str, Any]:
    counts: dict[str, Any] = {"skipped": result.skipped} if result.skipped else {}
    for stream, stats in result.streams.items():
        counts[f"{stream}_read"] = stats.records
        counts[f"{stream}_stored"] = stats.stored
    if result.error:
        counts["error"] = result.error
    if result.guarded:  # the job still counts as run; the trip waits in ``callsync review``
        counts["guard_trip"] = result.guarded
    return counts


def _stamp(after: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=after)).isoformat(timespec="seconds")


def _epoch(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


def serve(
    config: CallsyncConfig,
    engine: Engine,
    *,
    on_ready: Callable[[Daemon], None] | None = None,
    transport_for: TransportFor | None = None,
) -> int:
    """Run a daemon until SIGTERM/SIGINT; the exit code."""
    from syncer.health import HealthServer  # only the daemon serves HTTP

    grace = config.schedule.shutdown_grace.total_seconds()
    with DaemonLock.for_url(config.database.url), stopping.on_signals() as asked:
        signal.signal(signal.SIGHUP, _hangup)
        daemon = Daemon(config, engine, transport_for=transport_for, stop=asked)
        server = HealthServer(config.schedule.http, daemon) if config.schedule.http else None
        daemon.start()
        if server is not None:
            server.start()
            log.info("daemon.listening", url=server.url)
        if on_ready is not None:
            on_ready(daemon)
        try:
            while not asked.wait(0.5):
                pass
            log.info("daemon.stopping", grace=grace)
            finished = daemon.shutdown(grace)
        finally:
            if server is not None:
                server.stop()
        if not finished:
            # A job still inside a request would keep the interpreter from exiting (pool
            # threads are joined at exit); its transaction is rolled back with the process.
            sys.stderr.flush()
            os._exit(1)
        return 0


def _hangup(_signum: int, _frame: FrameType | None) -> None:
    os.write(2, b"callsync: SIGHUP ignored: config reload is not supported; restart callsync\n")
