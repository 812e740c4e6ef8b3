"""The Amplemarket connector wired to its in-process emulator, on one manual clock.

The emulator, the connector's ``context.clock``, its pacer and every wait share one
``ManualClock``: pacing and backoff advance the clock instead of sleeping, and the emulator's
500/minute window counts on that same clock, so "limits respected" is measured, not assumed.

Costs are the strategy's (``connectors.amplemarket.cursor``): a first pull is one request per
page of the server's default size (20) over the calls *in the account* (a seeded world puts
about a quarter of its calls in Amplemarket), plus one disposition fetch; an idle poll is one
empty window page.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from connectors.amplemarket.connector import AmplemarketConnector
from connectors.amplemarket.emulator import AmplemarketEmulator
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import ConnectorContext, Cursor
from connectors.emulation import EmulatorTransport, FaultPlan, ManualClock, World
from syncer import mapping
from syncer.connections import DatabaseConnectorState
from syncer.http.ratelimit import PacerRegistry

CONNECTION = "ample"
SERVER_PAGE_SIZE = 20  # the emulator's (and the vendor's observed) default page size
FAR_FUTURE = "2100-01-01T00:00:00+00:00"


class AmplemarketHarness:
    kind = "amplemarket"

    def __init__(self, *, faults: FaultPlan | None = None, **settings: Any) -> None:
        self.clock = ManualClock()
        self.emulator = AmplemarketEmulator(clock=self.clock, faults=faults)
        self.emulator.add_api_key(AmplemarketEmulator.DEMO_API_KEY)
        self.settings = AmplemarketSettings(api_key=AmplemarketEmulator.DEMO_API_KEY, **settings)
        self.pacers = PacerRegistry(clock=self._seconds, sleep=self.clock.advance)
        self.table = mapping.load_tables()["amplemarket"]
        self.horizon = self.clock.now()  # the newest call start written so far
        self.transport: httpx.BaseTransport | None = None  # tests may wrap the emulator
        self._worlds = 0
        self._user_id: str | None = None
        self._edits = 0

    def _seconds(self) -> float:
        return self.clock.now().timestamp()

    def context(self, engine: sa.Engine, **overrides: Any) -> ConnectorContext:
        fields: dict[str, Any] = {
            "name": CONNECTION,
            "settings": self.settings,
            "table": self.table,
            "phone_region": "US",
            "state": DatabaseConnectorState(engine, CONNECTION),
            "transport": self.transport or EmulatorTransport(self.emulator),
            "sleep": self.clock.advance,
            "pacers": self.pacers,
            "clock": self.clock.now,
        }
        return ConnectorContext(**{**fields, **overrides})

    def connector(self, engine: sa.Engine) -> AmplemarketConnector:
        return AmplemarketConnector(self.context(engine))

    # --- the account -------------------------------------------------------------------

    def seed(self, calls: int) -> World:
        """A new world of activity starting now (each seed adds reps, contacts and calls)."""
        self._worlds += 1
        start = self.clock.now().replace(microsecond=0) + timedelta(seconds=1)
        world = World(seed=7 + self._worlds, calls=calls, start=start)
        self.emulator.seed_world(world)
        newest = max((c.started_at for c in world.iter_calls("amplemarket")), default=start)
        self.horizon = max(self.horizon, newest)
        self._user_id = self.emulator.user_id_for("u1")
        return world

    def user_id(self) -> str:
        if self._user_id is None:
            user = self.emulator.add_user("Rep One", "rep@callsync-demo.test", phone="+14155551000")
            self._user_id = str(user["id"])
        return self._user_id

    def add_call(self, **fields: Any) -> str:
        started = fields.pop("started_at", None) or self.clock.now()
        call = self.emulator.add_call(
            **{"user_id": self.user_id(), "to": "+14155550199", "duration": 42, **fields},
            started_at=started,
        )
        self.horizon = max(self.horizon, started)
        return str(call["id"])

    def edit_call(self, external_id: str) -> None:
        self._edits += 1
        self.emulator.edit_call(external_id, notes=f"edited in the UI ({self._edits})")

    def settle(self) -> None:
        """Past the newest call and past the look-back after it: a window that starts after
        a pull made now holds none of today's calls, so the next idle poll reads nothing."""
        target = self.horizon + self.settings.lookback + timedelta(seconds=2)
        if target > self.clock.now():
            self.clock.set(target)

    def far_future_cursor(self, stream: str) -> Cursor:
        return Cursor(completed={"v": 1, "watermark": FAR_FUTURE, "swept_at": FAR_FUTURE})

    # --- costs -------------------------------------------------------------------------

    def account_calls(self) -> int:
        return self.emulator.store.calls.count()

    def full_pull_cost(self, calls: int) -> int:
        """ceil(calls in the account / 20) list pages + 1 disposition fetch (``calls`` is the
        world's size; the account holds the share of it logged in Amplemarket)."""
        in_account = self.account_calls()
        pages = max(1, math.ceil(in_account / self.page_size()))
        return pages + (1 if in_account else 0)

    def page_size(self) -> int:
        return self.settings.page_size or SERVER_PAGE_SIZE

    def idle_poll_cost(self) -> int:
        return 1


def make_harness() -> AmplemarketHarness:
    return AmplemarketHarness()
