"""A whole ``callsync backfill``: load each chosen connection's range, then push its routes.

The push goes through the ledger (``syncer.push_route.push_route``), so what the daemon or a
``sync`` already wrote is never written again. A target whose backfill failed is not written
into in this run (twin matching needs its calls of the range), exactly as ``sync`` defers a
target whose read failed. A dry run plans the push instead (``syncer.plan``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from connectors.base import Connector
from syncer.backfill import BackfillStats, OnPage, backfill_connection
from syncer.config import CallsyncConfig, RouteConfig
from syncer.http.explain import explain
from syncer.plan import SyncPlan
from syncer.push_stats import PushStats
from syncer.runner import push_one_route, route_name


@dataclass(frozen=True)
class BackfillRequest:
    since: datetime
    until: datetime | None
    window: timedelta
    connections: tuple[str, ...] = ()  # empty: every connection
    route_from: str | None = None  # push only the routes from this connection
    dry_run: bool = False
    force: bool = False  # past the mass-change guard (``syncer/guard.py``)


@dataclass
class BackfillReport:
    loads: dict[str, BackfillStats] = field(default_factory=dict)
    pushes: dict[str, dict[str, PushStats]] = field(default_factory=dict)
    plan: SyncPlan | None = None

    def failures(self) -> list[str]:
        """What failed or was cut short, named (non-empty: exit 1)."""
        found = [
            f"{name}: {stats.error or 'stopped before the last window'}"
            for name, stats in self.loads.items()
            if not stats.complete
        ]
        for route, targets in self.pushes.items():
            found += [f"{route} => {t}: {s.error}" for t, s in targets.items() if s.error]
        return found


def routes_of(config: CallsyncConfig, request: BackfillRequest) -> list[RouteConfig]:
    if request.route_from is not None:
        return [route for route in config.routes if route.source == request.route_from]
    loaded = set(request.connections or config.connections)
    return [route for route in config.routes if route.source in loaded]


def run_backfill(
    config: CallsyncConfig,
    engine: Engine,
    connectors: dict[str, Connector],
    request: BackfillRequest,
    *,
    stop: threading.Event | None = None,
    on_page: OnPage | None = None,
) -> BackfillReport:
    report = BackfillReport(plan=SyncPlan() if request.dry_run else None)
    for name in request.connections or tuple(config.connections):
        try:
            report.loads[name] = backfill_connection(
                engine,
                connectors[name],
                request.since,
                request.until,
                request.window,
                stop=stop,
                on_page=on_page,
            )
        except Exception as error:  # noqa: BLE001 - one connection's failure must not stop the rest
            report.loads[name] = BackfillStats(
                name, error=f"{type(error).__name__}: {explain(error)}"
            )
        if stop is not None and stop.is_set():
            return report
    unread = {name: s.error or "cut short" for name, s in report.loads.items() if not s.complete}
    for route in routes_of(config, request):
        report.pushes[route_name(route)] = push_one_route(
            config,
            engine,
            connectors,
            route,
            unread=unread,
            stop=stop,
            plan=report.plan,
            force=request.force,
        )
    return report
