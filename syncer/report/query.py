"""Build the coverage report from callsync's own database (no vendor request).

Everything is counted in SQL (GROUP BY), except what only the push engine's route filters can
decide (``syncer/report/routes.py``). Calls are placed in the range by when they *happened*
(``calls.started_at``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from syncer.config import CallsyncConfig
from syncer.report.model import CoverageReport, RepStats, SyncLag, ToolCalls
from syncer.report.routes import Window, route_coverage
from syncer.status import read_up_to
from syncer.store import ledger, repo, runs
from syncer.store.tables import SourceRecordRow

calls_t, links_t = ledger.calls_t, ledger.links_t
sources_t = cast(sa.Table, SourceRecordRow.__table__)
EXAMPLES = 5  # example call ids per missing reason
BACKFILL_PREFIX = "backfill:"  # a backfill's own cursors say nothing of live freshness


def build_report(
    engine: Engine,
    config: CallsyncConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    route_from: str | None = None,
    examples: int = EXAMPLES,
    now: datetime | None = None,
) -> CoverageReport:
    """The coverage report of calls that happened in ``[since, until)`` (None: unbounded);
    ``route_from``: only the routes from that connection."""
    stamp = now or datetime.now(UTC)
    window = Window(since, until)
    routes = [r for r in config.routes if route_from is None or r.source == route_from]
    with engine.connect() as conn:
        return CoverageReport(
            generated_at=stamp,
            since=since,
            until=until,
            route_from=route_from,
            tools=tool_calls(conn, config, window),
            routes=tuple(route_coverage(conn, route, window, examples) for route in routes),
            lags=sync_lags(conn, config, stamp),
        )


def _held() -> Any:
    """(connection, call_uid) for every record a connection holds: read from it (records
    callsync wrote there are filed under the call they copy) or written/linked into it."""
    read = sa.select(sources_t.c.connection.label("connection"), sources_t.c.call_uid).where(
        sources_t.c.deleted_at.is_(None)
    )
    written = sa.select(links_t.c.target_connection, links_t.c.call_uid).where(
        links_t.c.state == ledger.DONE
    )
    return sa.union(read, written).subquery("held")


def tool_calls(conn: Connection, config: CallsyncConfig, window: Window) -> tuple[ToolCalls, ...]:
    """Per connection: the calls it holds in the range, by rep (user email) and outcome."""
    held = _held()
    email = sa.func.lower(sa.func.coalesce(calls_t.c.data[("user", "email")].as_string(), ""))
    stmt = (
        sa.select(held.c.connection, email.label("email"), calls_t.c.outcome, sa.func.count())
        .select_from(held.join(calls_t, calls_t.c.call_uid == held.c.call_uid))
        .where(calls_t.c.deleted_at.is_(None), *window.conditions())
        .group_by(held.c.connection, email, calls_t.c.outcome)
    )
    mix: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for connection, rep, outcome, count in conn.execute(stmt):
        mix[connection][rep][outcome] = int(count)
    names = list(config.connections) + sorted(set(mix) - set(config.connections))
    return tuple(_tool(name, config, mix.get(name, {})) for name in names)


def _tool(name: str, config: CallsyncConfig, reps: dict[str, dict[str, int]]) -> ToolCalls:
    outcomes: dict[str, int] = defaultdict(int)
    for mix in reps.values():
        for outcome, count in mix.items():
            outcomes[outcome] += count
    by_rep = tuple(
        RepStats(email, sum(mix.values()), dict(sorted(mix.items())))
        for email, mix in sorted(reps.items())
    )
    connection = config.connections.get(name)
    return ToolCalls(
        connection=name,
        kind=connection.kind if connection is not None else None,
        calls=sum(outcomes.values()),
        outcomes=dict(sorted(outcomes.items())),
        reps=by_rep,
    )


def sync_lags(conn: Connection, config: CallsyncConfig, now: datetime) -> tuple[SyncLag, ...]:
    """Per configured connection: its last pull that ran through and how far its live
    cursors read (the least advanced stream), each as an age at ``now``."""
    pulls = runs.last_ok(conn, "pull")
    positions: dict[str, list[datetime]] = defaultdict(list)
    for name, stream, state in repo.list_cursors(conn):
        reached = read_up_to(state.completed) if state.completed else None
        if reached is not None and not stream.startswith(BACKFILL_PREFIX):
            positions[name].append(reached)
    found = []
    for name in config.connections:
        run = pulls.get(name)
        started = run.started_at if run is not None else None
        reached = min(positions[name], default=None)
        found.append(
            SyncLag(
                connection=name,
                last_pull_started_at=started,
                last_pull_finished_at=run.finished_at if run is not None else None,
                read_up_to=reached,
                pull_lag_seconds=_age(now, started),
                cursor_lag_seconds=_age(now, reached),
            )
        )
    return tuple(found)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())
