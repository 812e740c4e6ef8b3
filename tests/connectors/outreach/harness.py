"""The Outreach connector wired to its in-process emulator, on a manual clock.

Everything waits on ``clock``: the emulator's token lifetimes and rate windows, the
connector's window bounds and token refreshes, the pacer and the retry sleeps (which move the
clock instead of sleeping), so a test runs in milliseconds whatever the vendor asks to wait.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from connectors.base import ConnectorContext, Cursor
from connectors.emulation import EmulatorTransport, FaultPlan, ManualClock, World
from connectors.outreach.connector import OutreachConnector
from connectors.outreach.emulator import OutreachEmulator
from connectors.outreach.settings import MAX_PAGE_SIZE, OutreachSettings
from syncer.connections import DatabaseConnectorState
from syncer.http.ratelimit import PacerRegistry
from syncer.mapping import MappingOverrides, VendorTable, load_tables
from syncer.model import Call, Outcome, SourceIdentity
from syncer.store import repo
from syncer.tokens import DatabaseTokenStore

NAME = "outreach-test"
SEED = 2
# The seeded org's dispositions, mapped as an admin would in the config (outcome_by_disposition).
DISPOSITION_OUTCOMES = {
    "Left Voicemail": Outcome.VOICEMAIL_LEFT,
    "Voicemail - No Message": Outcome.VOICEMAIL_NO_MESSAGE,
    "Left Message - Gatekeeper": Outcome.MESSAGE_LEFT,
    "Wrong Number": Outcome.WRONG_NUMBER,
    "Busy": Outcome.BUSY,
}
FAR_FUTURE = "2100-01-01T00:00:00.000Z"
# The first pull costs one token exchange and one read of each label list besides the pages.
FULL_PULL_OVERHEAD = 3
# An idle poll: one list request, plus a token exchange when the access token ran out.
IDLE_POLL_COST = 2


@functools.cache  # parsing and validating the mapping files is the slow part of a connector
def outreach_table() -> VendorTable:
    overrides = MappingOverrides(outcome_by_disposition=DISPOSITION_OUTCOMES)
    return load_tables()["outreach"].with_overrides(overrides)


@dataclass
class OutreachHarness:
    kind: str = "outreach"
    clock: ManualClock = field(default_factory=ManualClock)
    faults: FaultPlan = field(default_factory=FaultPlan)
    tunables: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # OutreachSettings overrides
    # Tests that watch or alter the wire wrap the emulator's transport.
    wrap: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None
    emulator: OutreachEmulator = field(init=False)
    pacers: PacerRegistry = field(init=False)
    seeded: bool = False

    def __post_init__(self) -> None:
        self.emulator = OutreachEmulator(clock=self.clock, faults=self.faults, **self.tunables)
        # One registry per harness, as one per process in production: every connector built
        # here shares the credential's pacer.
        self.pacers = PacerRegistry(clock=self._seconds, sleep=self.clock.advance)

    def _seconds(self) -> float:
        return self.clock.now().timestamp()

    def connection_settings(self) -> OutreachSettings:
        return OutreachSettings(
            client_id=OutreachEmulator.DEMO_CLIENT_ID,
            client_secret=OutreachEmulator.DEMO_CLIENT_SECRET,
            refresh_token=OutreachEmulator.DEMO_REFRESH_TOKEN,
            redirect_uri=OutreachEmulator.DEMO_REDIRECT_URI,
            **self.settings,
        )

    def context(self, engine: sa.Engine) -> ConnectorContext:
        settings = self.connection_settings()
        return ConnectorContext(
            name=NAME,
            settings=settings,
            table=outreach_table(),
            phone_region="US",
            state=DatabaseConnectorState(engine, NAME),
            tokens=DatabaseTokenStore(engine, NAME, settings.refresh_token.get_secret_value()),
            transport=self.transport(),
            sleep=self.clock.advance,
            pacers=self.pacers,
            clock=self.clock.now,
        )

    def transport(self) -> httpx.BaseTransport:
        transport = EmulatorTransport(self.emulator)
        return transport if self.wrap is None else self.wrap(transport)

    def connector(self, engine: sa.Engine) -> OutreachConnector:
        return OutreachConnector(self.context(engine))

    # --- the vendor side ------------------------------------------------------------------

    def seed(self, calls: int) -> None:
        if self.seeded:  # the org exists: more calls are logged from now on
            for _ in range(calls):
                self.clock.advance(1)
                self.add_call()
            return
        # Every call of this world is in Outreach (one system: no twins), all in the past.
        start = self.clock.now() - timedelta(days=30)
        world = World(seed=SEED, calls=calls, systems=("outreach",), start=start, days=20)
        self.emulator.seed_world(world)
        self.seeded = True

    def _parties(self) -> tuple[int | None, int]:
        first = next(self.emulator.iter_calls())
        relationships = first["relationships"]
        prospect = relationships["prospect"]["data"]
        return (None if prospect is None else prospect["id"]), relationships["user"]["data"]["id"]

    def add_call(self, **attributes: Any) -> str:
        if not self.seeded:
            self.seed(1)
        prospect, user = self._parties()
        now = self.clock.now()
        stamp = lambda delta: (now - timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
        values = {
            "direction": "outbound", "outcome": "Answered", "from": "+14155551000",
            "to": "(415) 555-0199", "dialedAt": stamp(90), "answeredAt": stamp(84),
            "completedAt": stamp(10), "note": "Logged by the harness", **attributes,
        }  # fmt: skip
        return str(self.emulator.add_call(prospect_id=prospect, user_id=user, attributes=values))

    def edit_call(self, external_id: str, **changes: Any) -> None:
        self.emulator.edit_call(int(external_id), changes or {"note": f"edited {self.clock.now()}"})

    def settle(self) -> None:
        delay = self.connection_settings().settle_delay
        self.clock.advance(delay.total_seconds() + 60)

    def far_future_cursor(self, stream: str) -> Cursor:
        return Cursor(completed={"watermark": FAR_FUTURE, "swept_at": FAR_FUTURE})

    def full_pull_cost(self, calls: int) -> int:
        return math.ceil(calls / MAX_PAGE_SIZE) + FULL_PULL_OVERHEAD

    def idle_poll_cost(self) -> int:
        return IDLE_POLL_COST

    # --- what tests inspect ---------------------------------------------------------------

    def vendor_ids(self) -> set[str]:
        return {str(call["id"]) for call in self.emulator.iter_calls()}

    def stored_ids(self, engine: sa.Engine, *, live: bool = True) -> set[str]:
        sources = repo.sources_t
        query = sa.select(sources.c.external_id).where(sources.c.connection == NAME)
        if live:
            query = query.where(sources.c.deleted_at.is_(None))
        with engine.connect() as conn:
            return {row.external_id for row in conn.execute(query)}

    def stored_call(self, engine: sa.Engine, external_id: str) -> Call | None:
        identity = SourceIdentity(system="outreach", connection=NAME, external_id=external_id)
        with engine.connect() as conn:
            return repo.load_call(conn, identity.call_uid)

    def quarantined(self, engine: sa.Engine) -> dict[str, str]:
        """Open quarantine entries: record key -> reason."""
        with engine.connect() as conn:
            return {row.record_key: row.reason for row in repo.open_quarantine(conn, NAME)}

    def cursor(self, engine: sa.Engine) -> repo.CursorState:
        with engine.connect() as conn:
            return repo.get_cursor(conn, NAME, "calls")


def make_harness(**options: Any) -> OutreachHarness:
    return OutreachHarness(**options)
