"""The Close connector wired to its in-process emulator, on a manual clock.

Time: one ``ManualClock`` drives the emulator, the connector's ``context.clock``, the pacers
and every wait (``sleep`` advances it), so rate limits, settle delays and event lateness are
all exercised without real sleeping. Seeded worlds are placed just after the current time
and ``settle()`` moves the clock past everything written, plus the settle delay and the
event-log rescan.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors.base import ConnectorContext, Cursor
from connectors.close.connector import CloseConnector
from connectors.close.emulator import CloseEmulator
from connectors.close.settings import CloseSettings
from connectors.emulation import EmulatorTransport, FaultPlan, ManualClock, World
from syncer import mapping
from syncer.connections import DatabaseConnectorState
from syncer.http.ratelimit import PacerRegistry

NAME = "close-test"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTLE = timedelta(minutes=10)  # > settle delay (2 min) + event rescan (5 min) + event lateness
EVENT_ACTIONS = 3  # updated, created, deleted: one request each on an idle poll
FAR_FUTURE = "2100-01-01T00:00:00+00:00"


class CloseHarness:
    kind = "close"

    def __init__(
        self,
        *,
        faults: FaultPlan | None = None,
        settings: dict[str, Any] | None = None,
        emulator: dict[str, Any] | None = None,
    ) -> None:
        self.clock = ManualClock(START)
        self.emulator = CloseEmulator(clock=self.clock, faults=faults, **(emulator or {}))
        self.pacers = PacerRegistry(
            clock=lambda: self.clock.now().timestamp(), sleep=self.clock.advance
        )
        self.settings = CloseSettings.model_validate(
            {"api_key": CloseEmulator.DEMO_API_KEY, **(settings or {})}
        )
        self.table = mapping.load_tables()["close"]
        self.horizon = self.clock.now()
        self.seeded = 0
        self._world_seed = 0
        self._contact: tuple[str, str, str] | None = None
        self._edits = 0

    def connector(self, engine: sa.Engine, **settings: Any) -> CloseConnector:
        context = ConnectorContext(
            name=NAME,
            settings=self.settings.model_copy(update=settings) if settings else self.settings,
            table=self.table,
            phone_region="US",
            state=DatabaseConnectorState(engine, NAME),
            transport=EmulatorTransport(self.emulator),
            sleep=self.clock.advance,
            pacers=self.pacers,
            clock=self.clock.now,
        )
        return CloseConnector(context)

    # --- the vendor account ---------------------------------------------------------------

    def seed(self, calls: int) -> None:
        """A world with about ``calls`` Close calls (Close-made and logged twins), all
        starting after the current time. The emulator names calls after the world's keys
        (``k1``, ``k2``...), so a second seed overwrites calls of the first one."""
        if calls <= 0:
            return
        self._world_seed += 1
        size = _world_size(self._world_seed, calls)
        world = World(
            seed=self._world_seed, calls=size, start=self.clock.now() + timedelta(minutes=1), days=2
        )
        self.emulator.seed_world(world)
        assert self.emulator.last_seed is not None
        self.seeded = self.emulator.last_seed.calls
        # Calls logged by integrations are created well after they ended: ask the account.
        self._push(self._latest_write())

    def _latest_write(self) -> datetime:
        latest = self.horizon
        for item in self.emulator.store.calls.scan():
            for key in ("date_created", "date_updated"):
                latest = max(latest, datetime.fromisoformat(item.doc["rec"][key]))
        return latest

    def _push(self, moment: datetime) -> None:
        self.horizon = max(self.horizon, moment)

    def _lead(self) -> tuple[str, str, str]:
        if self._contact is None:
            phone = "+14155550199"
            lead = self.emulator.add_lead("Harness Co", [{"name": "Pat Doe", "phones": [phone]}])
            self._contact = (lead["id"], lead["contacts"][0]["id"], phone)
        return self._contact

    def add_call(self, **fields: Any) -> str:
        lead_id, contact_id, phone = self._lead()
        fields = {"duration": 42, "disposition": "answered", **fields}
        record = self.emulator.add_close_call(
            lead_id=lead_id, contact_id=contact_id, phone=phone, **fields
        )
        self._push(self.clock.now())
        return str(record["id"])

    def edit_call(self, external_id: str) -> None:
        self._edits += 1
        self.emulator.edit_call(external_id, note=f"Edited in Close ({self._edits})")
        self._push(self.clock.now())

    def settle(self) -> None:
        self.clock.set(max(self.clock.now(), self.horizon) + SETTLE)

    # --- cursors and costs ----------------------------------------------------------------

    def far_future_cursor(self, stream: str) -> Cursor:
        completed: dict[str, Any] = {"v": 1, "through": FAR_FUTURE}
        if stream == "call_events":
            completed["seen"] = {}
        return Cursor(completed=completed)

    def full_pull_cost(self, calls: int) -> int:
        """Window pages overlapping by one record (N/99), one ``_skip``-cap probe for a
        multi-page window, one outcome fetch, one request per event action."""
        n = max(calls, self.seeded)
        size = self.settings.page_size
        if n <= size:
            return 1 + (1 if n else 0) + EVENT_ACTIONS
        pages = 1 + math.ceil((n - size) / (size - 1))
        return pages + 1 + 1 + EVENT_ACTIONS

    def idle_poll_cost(self) -> int:
        """One empty creation window and one request per event action."""
        return 1 + EVENT_ACTIONS


def _world_size(seed: int, wanted: int) -> int:
    """How many world calls (all tools) hold about ``wanted`` Close calls (the world's
    contact list depends on its size, so the final count may differ by a few)."""
    count = 0
    for call in World(seed=seed, calls=wanted * 5 + 50).iter_calls():
        if call.system == "close":
            count += 1
            if count >= wanted:
                return int(call.key.split("-")[0][1:])
    raise AssertionError("the world is too small")


def make_harness(**options: Any) -> CloseHarness:
    return CloseHarness(**options)
