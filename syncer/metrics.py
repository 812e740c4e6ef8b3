"""Prometheus metrics of a ``callsync run`` process, served at ``/metrics`` (``syncer/health.py``).

The engine does not know about metrics: the daemon records what a job's results say
(:func:`record_pull`, :func:`record_push`, :func:`record_job`), and every vendor request is
counted by a transport wrapped around the connection's own (:class:`CountingTransport`), so
connectors need no hooks. One registry per process, not the library's global one, so tests can
scrape a daemon without the interpreter's own metrics.
"""

from __future__ import annotations

import time

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from syncer.http.client import ATTEMPT_EXTENSION
from syncer.http.ratelimit import PROCESS_PACERS
from syncer.pull import PullResult
from syncer.push_stats import PushStats

REGISTRY = CollectorRegistry(auto_describe=True)

RECORDS = Counter(
    "callsync_records",
    "Vendor records read by pulls, by what became of them.",
    ["connection", "outcome"],
    registry=REGISTRY,
)
WRITES = Counter(
    "callsync_writes",
    "Calls pushed into targets, by outcome (created, updated, parked, in_doubt, ...).",
    ["route", "target", "outcome"],
    registry=REGISTRY,
)
REQUESTS = Counter(
    "callsync_vendor_requests",
    "HTTP requests sent to a vendor, by connection and answer (a status code or 'error').",
    ["connection", "status"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "callsync_vendor_rate_limited",
    "Vendor answers 429 (too many requests), by connection.",
    ["connection"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "callsync_vendor_retries",
    "Requests sent again after a retryable answer or a dropped connection, by connection.",
    ["connection"],
    registry=REGISTRY,
)
HEADROOM = Gauge(
    "callsync_rate_limit_headroom_ratio",
    "Share of a credential's request burst callsync could send right now (0: pacing). The "
    "credential is named by its vendor and a fingerprint, never by the secret.",
    ["credential"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "callsync_job_duration_seconds",
    "How long one scheduled job (a connection's pull and its routes' pushes) took.",
    ["job"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
JOB_FAILURES = Counter(
    "callsync_job_failures", "Jobs that failed or were cut short.", ["job"], registry=REGISTRY
)
LAST_SUCCESS = Gauge(
    "callsync_job_last_success_timestamp_seconds",
    "Unix time the job last ran through without an error.",
    ["job"],
    registry=REGISTRY,
)
CURSOR_LAG = Gauge(
    "callsync_cursor_lag_seconds",
    "Seconds since the start of the connection's last successful pull: what callsync holds "
    "of the vendor is at least this fresh.",
    ["connection"],
    registry=REGISTRY,
)

_PULL_OUTCOMES = ("records", "stored", "unchanged", "quarantined", "deleted")
_PUSH_OUTCOMES = (
    "created",
    "updated",
    "adopted",
    "matched",
    "parked",
    "failed",
    "stale",
    "in_doubt",
    "needs_review",
    "skipped",
)
_pull_started: dict[str, float] = {}


def record_pull(connection: str, result: PullResult, started: float) -> None:
    for stats in result.streams.values():
        counts = stats.as_dict()
        for outcome in _PULL_OUTCOMES:
            if counts[outcome]:
                RECORDS.labels(connection, "read" if outcome == "records" else outcome).inc(
                    counts[outcome]
                )
    if result.ran_through:
        _pull_started[connection] = started


def record_push(route: str, target: str, stats: PushStats) -> None:
    counts = stats.as_dict()
    for outcome in _PUSH_OUTCOMES:
        if counts[outcome]:
            WRITES.labels(route, target, outcome).inc(counts[outcome])


def record_job(job: str, seconds: float, ok: bool) -> None:
    JOB_SECONDS.labels(job).observe(seconds)
    if ok:
        LAST_SUCCESS.labels(job).set(time.time())
    else:
        JOB_FAILURES.labels(job).inc()


def render() -> bytes:
    """The Prometheus text exposition of every callsync metric, lags computed now."""
    now = time.time()
    for connection, started in _pull_started.items():
        CURSOR_LAG.labels(connection).set(max(0.0, now - started))
    for credential, share in PROCESS_PACERS.headroom().items():
        HEADROOM.labels(credential).set(share)
    return generate_latest(REGISTRY)


class CountingTransport(httpx.BaseTransport):
    """Counts each request a connection sends (retries included) by its answer."""

    def __init__(self, connection: str, inner: httpx.BaseTransport) -> None:
        self.connection = connection
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.extensions.get(ATTEMPT_EXTENSION, 1) > 1:
            RETRIES.labels(self.connection).inc()
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError:
            REQUESTS.labels(self.connection, "error").inc()
            raise
        REQUESTS.labels(self.connection, str(response.status_code)).inc()
        if response.status_code == 429:
            RATE_LIMITED.labels(self.connection).inc()
        return response

    def close(self) -> None:
        self.inner.close()
