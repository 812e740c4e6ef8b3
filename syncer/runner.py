"""One sync pass over a whole config: pull every connection, then push every route.

This is what ``callsync sync`` runs once and what the daemon will run on its schedule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from sqlalchemy.engine import Engine

from connectors.base import Connector
from syncer.config import CallsyncConfig
from syncer.connections import build_connector
from syncer.errors import DatabaseError
from syncer.pull import PullResult, pull
from syncer.push import PushStats, push_route
from syncer.store.twins import Tolerances

TransportFor = Callable[[str], httpx.BaseTransport | None]


@dataclass
class SyncReport:
    pulls: dict[str, PullResult | str] = field(default_factory=dict)  # str: why it failed
    pushes: dict[str, dict[str, PushStats]] = field(default_factory=dict)  # route -> target

    @property
    def failed(self) -> bool:
        """Whether some part did not run through: a pull failed or stopped early (a vendor
        unreachable, credentials refused), or a target's push stopped early or was deferred.
        A target skipped because another run was writing into it is not a failure: that run
        does the work. This decides the exit code (``callsync`` exits 1)."""
        return bool(self.failed_pulls()) or any(
            stats.error for targets in self.pushes.values() for stats in targets.values()
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
) -> SyncReport:
    report = SyncReport()
    for name in pull_names if pull_names is not None else list(connectors):
        try:
            report.pulls[name] = pull(
                engine, connectors[name], stop=stop, matching=matching_of(config)
            )
        except DatabaseError:
            raise  # the store every connection shares: nothing else can run either
        except Exception as error:  # noqa: BLE001 - one connection's failure must not stop the rest
            report.pulls[name] = f"{type(error).__name__}: {error}"
    if not push:
        return report
    # Twin matching needs the target's fresh state: a target whose read failed in this run
    # is not written into (its writes wait for the next run that reads it).
    unread = report.failed_pulls()
    for index, route in enumerate(config.routes):
        key = f"{route.source} -> {', '.join(route.targets)}"
        report.pushes[f"{index}: {key}"] = push_route(
            engine,
            route,
            connectors,
            source=connectors[route.source],
            matching=matching_of(config),
            stop=stop,
            deferred={name: unread[name] for name in route.targets if name in unread},
        )
    return report
