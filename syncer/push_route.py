"""A route's push: each target on its own, under its own lease, recorded as a push run.

One target's failure (an outage, an unexpected error) is recorded in its stats and its run,
and the route's other targets go on; only a failing store stops them all.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.engine import Engine

from connectors.base import Connector
from syncer import stopping
from syncer.config import RouteConfig
from syncer.errors import DatabaseError
from syncer.heartbeat import LEASE_TTL, current_worker, kept
from syncer.http.explain import explain
from syncer.plan import SyncPlan
from syncer.push import Pusher, PushHooks
from syncer.push_stats import PushStats
from syncer.store import runs
from syncer.store.leases import LeaseBusyError
from syncer.store.twins import Tolerances

log = structlog.get_logger("callsync.push")


def _push_target(
    pusher: Pusher, name: str, stop: threading.Event | None, deferred: str | None
) -> str:
    """Run one target's part into ``pusher.stats``; returns how it ended, as a run status."""
    if deferred is not None:
        pusher.stats.error = f"deferred: its pull failed ({deferred})"
        return "deferred"
    try:
        pusher.run(stop)
    except LeaseBusyError as busy:
        pusher.stats.busy = busy.holder.describe() if busy.holder else "another run"
        log.warning("push.busy", target=name, holder=pusher.stats.busy)
        return "busy"
    except stopping.StopRequested:
        pusher.stats.interrupted = True
    except DatabaseError:
        raise  # the store every target shares: nothing else can run either
    except Exception as error:  # noqa: BLE001 - one target's failure must not stop the rest
        log.warning("push.aborted", target=name, error=str(error))
        pusher.stats.error = f"{type(error).__name__}: {explain(error)}"
    if pusher.stats.interrupted:
        return "interrupted"
    return "ok" if pusher.stats.error is None else "failed"


def _recorded_push(
    engine: Engine,
    route: RouteConfig,
    pusher: Pusher,
    name: str,
    stop: threading.Event | None,
    deferred: str | None,
) -> None:
    """One target's push, recorded as its push run (so ``callsync status`` shows how it ended
    and why), held by the run's own lease so a killed run is closed as died."""
    with engine.begin() as conn:
        run_id, fence = runs.start_held_run(conn, name, "push", current_worker(), LEASE_TTL)
    with kept(engine, fence):
        status = "failed"
        try:
            status = _push_target(pusher, name, stop, deferred)
        finally:
            with engine.begin() as conn:
                recorded = {"route": f"{route.source} -> {', '.join(route.targets)}"}
                recorded |= pusher.stats.as_dict()
                runs.finish_run(conn, run_id, status, recorded, pusher.stats.error)


def push_route(
    engine: Engine,
    route: RouteConfig,
    targets: dict[str, Connector],
    *,
    source: Connector | None = None,
    matching: Tolerances | None = None,
    stop: threading.Event | None = None,
    deferred: dict[str, str] | None = None,
    plan: SyncPlan | None = None,
    hooks: PushHooks | None = None,
) -> dict[str, PushStats]:
    """Write the route's calls into each of its targets, each on its own: a target that fails
    (a vendor outage, an unexpected error) is recorded in its stats and the others go on.
    ``deferred``: targets not to write into in this run, with why (their read failed).
    ``plan``: a dry run; each target's actions are recorded there and nothing is written.
    ``hooks``: run around each target's push, under its lease."""
    results: dict[str, PushStats] = {}
    for name in route.targets:
        pusher = Pusher(engine, route, targets[name], source, matching or Tolerances())
        pusher.hooks = hooks
        if plan is not None:  # a dry run is no push run: status keeps showing the real ones
            pusher.plan = plan.target(f"{route.source} -> {name}", name)
            _push_target(pusher, name, stop, (deferred or {}).get(name))
        else:
            _recorded_push(engine, route, pusher, name, stop, (deferred or {}).get(name))
        results[name] = pusher.stats
    return results
