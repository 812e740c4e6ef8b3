"""The Pipedrive connector wired to its in-process emulator, on a manual clock.

Everything waits on ``clock``: the emulator's burst window and daily budget, the connector's
bookmarks and profile cache, the pacer and the retry sleeps (which move the clock instead of
sleeping), so a test runs in milliseconds whatever the vendor asks to wait.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from connectors.base import ConnectorContext, Cursor
from connectors.emulation import EmulatorTransport, FaultPlan, ManualClock, World
from connectors.pipedrive.connector import PipedriveConnector
from connectors.pipedrive.emulator import PipedriveEmulator
from connectors.pipedrive.settings import MAX_CALL_LOG_PAGE, PipedriveSettings
from syncer.connections import DatabaseConnectorState
from syncer.http.ratelimit import PacerRegistry
from syncer.mapping import VendorTable, load_tables
from syncer.model import Call, SourceIdentity
from syncer.store import repo

NAME = "pipedrive-test"
SEED = 4
FAR_FUTURE = "2100-01-01T00:00:00Z"
TOKEN = PipedriveEmulator.DEMO_API_TOKEN  # the first (admin) user of the seeded company


def sweep_pages(calls: int, page: int = MAX_CALL_LOG_PAGE) -> int:
    """List pages of a sweep: the first page, then ``page - 1`` new entries per page (one
    entry of overlap, to notice entries vanishing before the read position)."""
    return 1 if calls <= page else 1 + math.ceil((calls - page) / (page - 1))


def full_pull_cost(calls: int) -> int:
    """First pull: the profile, the sweep's list pages, one ``ids=`` join per two list pages,
    and one activity page (the changes pass from the sweep's start finds nothing new)."""
    pages = sweep_pages(calls)
    return 1 + pages + math.ceil(pages / 2) + 1


@cache
def pipedrive_table() -> VendorTable:
    return load_tables()["pipedrive"]


IDLE_POLL_COST = 1  # one activity page: the profile is cached, no log is wanted


@dataclass
class PipedriveHarness:
    kind: str = "pipedrive"
    clock: ManualClock = field(default_factory=ManualClock)
    faults: FaultPlan = field(default_factory=FaultPlan)
    tunables: dict[str, Any] = field(default_factory=dict)  # PipedriveEmulator keywords
    settings: dict[str, Any] = field(default_factory=dict)  # PipedriveSettings overrides
    users: int = 1  # world users; the connection is the first one's token
    # Wraps the emulator transport of every connector built here (crashes, side effects).
    wrap: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None
    emulator: PipedriveEmulator = field(init=False)
    pacers: PacerRegistry = field(init=False)
    seeded: bool = False

    def __post_init__(self) -> None:
        self.emulator = PipedriveEmulator(clock=self.clock, faults=self.faults, **self.tunables)
        # One registry per harness, as one per process in production: every connector built
        # here shares the token's pacer, on the manual clock.
        self.pacers = PacerRegistry(clock=self._seconds, sleep=self.clock.advance)

    def _seconds(self) -> float:
        return self.clock.now().timestamp()

    def connection_settings(self, **overrides: Any) -> PipedriveSettings:
        values = {"company_domain": "callsync-demo", **self.settings, **overrides}
        return PipedriveSettings(api_token=SecretStr(TOKEN), **values)

    def context(self, engine: sa.Engine, **overrides: Any) -> ConnectorContext:
        return ConnectorContext(
            name=NAME,
            settings=self.connection_settings(**overrides),
            table=pipedrive_table(),
            phone_region="US",
            state=DatabaseConnectorState(engine, NAME),
            transport=self.transport(),
            sleep=self.clock.advance,
            pacers=self.pacers,
            clock=self.clock.now,
        )

    def transport(self) -> httpx.BaseTransport:
        transport: httpx.BaseTransport = EmulatorTransport(self.emulator)
        return transport if self.wrap is None else self.wrap(transport)

    def connector(self, engine: sa.Engine, **overrides: Any) -> PipedriveConnector:
        return PipedriveConnector(self.context(engine, **overrides))

    def api(self) -> httpx.Client:
        """The emulated API as another integration of the company would call it."""
        return httpx.Client(
            base_url="https://callsync-demo.pipedrive.com",
            transport=EmulatorTransport(self.emulator),
            headers={"x-api-token": TOKEN},
        )

    # --- the vendor side ------------------------------------------------------------------

    @property
    def user_id(self) -> int:
        return self.emulator.user_id_for_token(TOKEN)

    def seed(self, calls: int) -> None:
        if self.seeded:  # the company exists: more calls are logged from now on
            for _ in range(calls):
                self.clock.advance(1)
                self.add_call()
            return
        # One system (no twins), every call in the past; with one user, all are the token's.
        start = self.clock.now() - timedelta(days=30)
        world = World(
            seed=SEED, calls=calls, users=self.users, systems=("pipedrive",), start=start, days=20
        )
        self.emulator.seed_world(world)
        self.seeded = True

    def add_call(self, user_id: int | None = None, **fields: Any) -> str:
        """A call logged now through the provider integration (POST /v1/callLogs rules)."""
        if not self.seeded:
            self.seed(1)
        now = self.clock.now()

        def stamp(seconds_ago: int) -> str:
            return (now - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%d %H:%M:%S")

        values = {
            "outcome": "connected", "from_phone_number": "+14155551000",
            "to_phone_number": "(415) 555-0199", "start_time": stamp(90), "end_time": stamp(10),
            "duration": "80", "subject": "Call from the harness", "note": "<p>Logged</p>",
            **fields,
        }  # fmt: skip
        log = self.emulator.add_call_log(user_id or self.user_id, **values)
        return str(log["id"])

    def activity_of(self, external_id: str) -> int:
        log = self.emulator.call_log(external_id)
        assert log is not None, external_id
        return int(log["activity_id"])

    def edit_call(self, external_id: str, **changes: Any) -> None:
        edit = changes or {"note": f"<p>edited at {self.clock.now().isoformat()}</p>"}
        self.emulator.edit_activity(self.activity_of(external_id), **edit)

    def settle(self) -> None:
        # Pipedrive shows writes at once; move past the lookback so a first pull's changes
        # pass (from the sweep's start minus the lookback) has nothing left to re-read.
        self.clock.advance(self.connection_settings().lookback.total_seconds() + 60)

    def far_future_cursor(self, stream: str) -> Cursor:
        return Cursor(completed={"since": FAR_FUTURE, "swept_at": FAR_FUTURE, "tail": 0})

    def full_pull_cost(self, calls: int) -> int:
        return full_pull_cost(calls)

    def idle_poll_cost(self) -> int:
        return IDLE_POLL_COST

    # --- what tests inspect ---------------------------------------------------------------

    def vendor_ids(self, user_id: int | None = None) -> set[str]:
        owner = user_id or self.user_id
        return {str(s.doc["id"]) for s in self.emulator.store.call_logs.scan(owner=owner)}

    def stored_ids(self, engine: sa.Engine, *, live: bool = True) -> set[str]:
        sources = repo.sources_t
        query = sa.select(sources.c.external_id).where(sources.c.connection == NAME)
        if live:
            query = query.where(sources.c.deleted_at.is_(None))
        with engine.connect() as conn:
            return {row.external_id for row in conn.execute(query)}

    def stored_call(self, engine: sa.Engine, external_id: str) -> Call:
        call_uid = SourceIdentity(
            system=self.kind, connection=NAME, external_id=external_id
        ).call_uid
        with engine.connect() as conn:
            call = repo.load_call(conn, call_uid)
        assert call is not None, external_id
        return call

    def stored_raw(self, engine: sa.Engine, external_id: str) -> dict[str, Any]:
        """The raw record stored beside the call (the canonical row does not keep it)."""
        sources = repo.sources_t
        query = sa.select(sources.c.raw).where(
            sources.c.connection == NAME, sources.c.external_id == external_id
        )
        with engine.connect() as conn:
            raw: dict[str, Any] = conn.execute(query).scalar_one()
        return raw


def make_harness(**options: Any) -> PipedriveHarness:
    return PipedriveHarness(**options)
