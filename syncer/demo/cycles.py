"""The demo's runs, through the same engine functions ``callsync backfill`` and ``callsync
sync`` use: a backfill over the world's period, then a few incremental cycles, each after
the scenario's step of what reps did in their tools."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from connectors.base import Connector
from syncer.backfill_run import BackfillReport, BackfillRequest, run_backfill
from syncer.config import CallsyncConfig
from syncer.demo.scenario import Happened, Scenario
from syncer.runner import SyncReport, sync_once

PAUSE_SECONDS = 1.5


@dataclass
class Cycle:
    happened: Happened
    report: SyncReport


@dataclass
class DemoRun:
    malformed: Happened
    backfill: BackfillReport | None = None
    cycles: list[Cycle] = field(default_factory=list)
    interrupted: bool = False

    def failures(self) -> list[str]:
        """What failed or was cut short (the demo then exits 1)."""
        found = self.backfill.failures() if self.backfill else ["the backfill did not run"]
        for number, cycle in enumerate(self.cycles, 1):
            found += [f"cycle {number}: {n}: {e}" for n, e in cycle.report.failed_pulls().items()]
            found += [
                f"cycle {number}: {route} => {target}: {stats.error}"
                for route, targets in cycle.report.pushes.items()
                for target, stats in targets.items()
                if stats.error
            ]
        return found + (["interrupted"] if self.interrupted else [])


def run_demo(
    config: CallsyncConfig,
    engine: Engine,
    live: dict[str, Connector],
    scenario: Scenario,
    *,
    until: datetime,
    stop: threading.Event,
) -> DemoRun:
    run = DemoRun(malformed=scenario.malformed())
    since = scenario.world.start
    request = BackfillRequest(since, until, window=timedelta(days=7))
    run.backfill = run_backfill(config, engine, live, request, stop=stop)
    for happened in scenario.steps():
        # Time passes between polls: the demo's config sweeps sources that report no
        # deletions every second, so a call deleted just now is seen gone by this cycle.
        if stop.wait(PAUSE_SECONDS):
            break
        run.cycles.append(Cycle(happened, sync_once(config, engine, live, stop=stop)))
    run.interrupted = stop.is_set()
    return run
