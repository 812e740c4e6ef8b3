"""One sync pass over a whole config: pull every connection, then push every route.

This is what ``callsync sync`` runs once and what the daemon will run on its schedule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from sqlalchemy.engine import Engine

from connectors.base import Connector
from syncer import stopping
from syncer.config import CallsyncConfig, RouteConfig
from syncer.connections import build_connector
from syncer.deletions import RouteHooks
from syncer.errors import DatabaseError
from syncer.guard import SweepGuard
from syncer.http.client import REQUESTS_SENT
from syncer.http.explain import explain
from syncer.plan import SyncPlan
from syncer.pull import OnPullPage, PullResult, pull
from syncer.push_route import push_route
from syncer.push_stats import PushStats
from syncer.store import runs
from syncer.store.twins import Tolerances

TransportFor = Callable[[str], httpx.BaseTransport | None]


@dataclass(frozen=True)
class Cost:
    """What one connection's pull took: requests sent (retries included) and seconds."""

    requests: int = 0
    seconds: float = 0.0


@dataclass
class SyncReport:
    pulls: dict[str, PullResult | str] = field(default_factory=dict)  # str: why it failed
    costs: dict[str, Cost] = field(default_factory=dict)  # connection -> its pull's cost
    pushes: dict[str, dict[str, PushStats]] = field(default_factory=dict)  # route -> target
    interrupted: bool = False  # a stop was requested: the pass ended at a boundary

    @property
    def failed(self) -> bool:
        """Whether some part that should have run did not run through: a pull failed or stopped
        early (a vendor unreachable, credentials refused), a sweep's deletions wait for a
        person (a mass-change guard trip; the pull itself counts as read), a stream or target
        was skipped because another live run holds it, a target's push stopped early or was
        deferred, or the pass was interrupted. This decides the exit code (``callsync`` exits 1)."""
        return (
            self.interrupted
            or bool(self.failed_pulls())
            or bool(self.guard_trips())
            or bool(self.busy())
            or any(stats.error for targets in self.pushes.values() for stats in targets.values())
        )

    def failed_pulls(self) -> dict[str, str]:
        """connection -> why its pull did not run through."""
        failed = {}
        for name, result in self.pulls.items():
            if isinstance(result, str):
                failed[name] = result
            elif result.error is not None:
                failed[name] = result.error
        return failed

    def guard_trips(self) -> dict[str, str]:
        """connection -> why the mass-change guard held its sweep's deletions back. Not a
        failed pull (its pages are stored, its targets are written): a trip for a person."""
        return {
            name: result.guarded
            for name, result in self.pulls.items()
            if isinstance(result, PullResult) and result.guarded
        }

    def busy(self) -> list[str]:
        """What was skipped because another live run holds it, and who holds it."""
        held = [
            f"{name} stream {stream}: held by {who}"
            for name, result in self.pulls.items()
            if isinstance(result, PullResult)
            for stream, who in result.skipped.items()
        ]
        held += [
            f"route {route} => {target}: held by {stats.busy}"
            for route, targets in self.pushes.items()
            for target, stats in targets.items()
            if stats.busy
        ]
        return held


@contextmanager
def connected(
    config: CallsyncConfig, engine: Engine, transport_for: TransportFor | None = None
) -> Iterator[dict[str, Connector]]:
    """A live connector per configured connection, closed afterwards."""
    built: dict[str, Connector] = {}
    try:
        for name in config.connections:
            transport = transport_for(name) if transport_for else None
            built[name] = build_connector(config, name, engine, transport=transport)
        yield built
    finally:
        for connector in built.values():
            connector.close()


def matching_of(config: CallsyncConfig) -> Tolerances:
    return Tolerances(config.matching.start_tolerance, config.matching.duration_tolerance_seconds)


def sync_once(
    config: CallsyncConfig,
    engine: Engine,
    connectors: dict[str, Connector],
    *,
    pull_names: list[str] | None = None,
    push: bool = True,
    stop: threading.Event | None = None,
    plan: SyncPlan | None = None,
    on_page: OnPullPage | None = None,
    force: bool = False,
) -> SyncReport:
    """Pull, then push; a stop request (default: the process flag) ends the pass at the next
    page or write boundary, and no push starts after it. ``plan``: a dry run of the push
    (reads are stored; nothing is written to a target). ``on_page``: told after each page a
    pull stores (progress displays). ``force``: past the mass-change guard (``syncer.guard``)."""
    halt = stop or stopping.FLAG
    report = SyncReport()
    with engine.begin() as conn:
        runs.close_dead(conn)
    for name in pull_names if pull_names is not None else list(connectors):
        if halt.is_set():
            break
        guard = SweepGuard(config.guard, force)
        _pull_one(config, engine, (name, connectors[name]), report, halt, on_page, guard)
    if not push or halt.is_set():
        report.interrupted = halt.is_set()
        return report
    # Twin matching needs the target's fresh state: a target whose read failed in this run
    # is not written into (its writes wait for the next run that reads it).
    unread = report.failed_pulls()
    for index, route in enumerate(config.routes):
        report.pushes[f"{index}: {route_name(route)}"] = push_one_route(
            config, engine, connectors, route, unread=unread, stop=halt, plan=plan, force=force
        )
    report.interrupted = halt.is_set()
    return report


def _pull_one(
    config: CallsyncConfig,
    engine: Engine,
    named: tuple[str, Connector],
    report: SyncReport,
    halt: threading.Event,
    on_page: OnPullPage | None,
    guard: SweepGuard,
) -> None:
    """Pull one connection into ``report``, with its cost; a failure is recorded, not raised."""
    name, connector = named
    sent, began = REQUESTS_SENT.sent, time.monotonic()
    try:
        report.pulls[name] = pull(
            engine,
            connector,
            stop=halt,
            matching=matching_of(config),
            on_page=on_page,
            guard=guard,
        )
    except DatabaseError:
        raise  # the store every connection shares: nothing else can run either
    except Exception as error:  # noqa: BLE001 - one connection's failure must not stop the rest
        report.pulls[name] = f"{type(error).__name__}: {explain(error)}"
    finally:
        report.costs[name] = Cost(REQUESTS_SENT.sent - sent, time.monotonic() - began)


def route_name(route: RouteConfig) -> str:
    return f"{route.source} -> {', '.join(route.targets)}"


def push_one_route(
    config: CallsyncConfig,
    engine: Engine,
    connectors: dict[str, Connector],
    route: RouteConfig,
    *,
    unread: dict[str, str],
    stop: threading.Event | None = None,
    plan: SyncPlan | None = None,
    force: bool = False,
) -> dict[str, PushStats]:
    """Push one route; targets in ``unread`` (connection -> why its read failed or was cut
    short) wait: twin matching needs a target's fresh state. Each target is guarded against
    mass changes (unless ``force``) and follows the route's ``deletions`` mode."""
    return push_route(
        engine,
        route,
        connectors,
        source=connectors[route.source],
        matching=matching_of(config),
        stop=stop,
        deferred={name: unread[name] for name in route.targets if name in unread},
        plan=plan,
        hooks=RouteHooks(config.guard_of(route), force),
    )
