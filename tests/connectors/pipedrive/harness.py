"""The Pipedrive connector wired to its in-process emulator, on a manual clock.

Everything waits on ``clock``: the emulator's burst window and daily budget, the connector's
bookmarks and profile cache, the write path's identity cache, the pacer and the retry sleeps
(which move the clock instead of sleeping), so a test runs in milliseconds whatever the vendor
asks to wait. It is a ``WriteHarness`` too (tests/connectors/harness.py).
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
from connectors.emulation.world import WorldUser, format_phone
from connectors.pipedrive.connector import PipedriveConnector
from connectors.pipedrive.emulator import PipedriveEmulator
from connectors.pipedrive.emulator.seeding import TASK_EVERY
from connectors.pipedrive.settings import MAX_ACTIVITY_PAGE, MAX_CALL_LOG_PAGE, PipedriveSettings
from syncer.connections import DatabaseConnectorState
from syncer.http.ratelimit import PacerRegistry
from syncer.identities import MISSING_TTL, DatabaseIdentityCache
from syncer.mapping import VendorTable, load_tables
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity
from syncer.store import repo

NAME = "pipedrive-test"
SEED = 4
FAR_FUTURE = "2100-01-01T00:00:00Z"
TOKEN = PipedriveEmulator.DEMO_API_TOKEN  # the first (admin) user of the seeded company


def sweep_pages(calls: int, page: int = MAX_CALL_LOG_PAGE) -> int:
    """List pages of a sweep: the first page, then ``page - 1`` new entries per page (one
    entry of overlap, to notice entries vanishing before the read position)."""
    return 1 if calls <= page else 1 + math.ceil((calls - page) / (page - 1))


def walk_pages(calls: int) -> int:
    """Pages of the sweep's walk of every activity: the seeded calls and their follow-up
    tasks (one per ``TASK_EVERY`` calls), 500 per page, at least one page."""
    activities = calls + calls // TASK_EVERY
    return max(1, math.ceil(activities / MAX_ACTIVITY_PAGE))


def full_pull_cost(calls: int) -> int:
    """First pull of a one-user company: the profile, the sweep's list pages, one ``ids=``
    join per two list pages, the walk of every activity (``other_users``), and one activity
    page (the changes pass from the sweep's start finds nothing new)."""
    pages = sweep_pages(calls)
    return 1 + pages + math.ceil(pages / 2) + walk_pages(calls) + 1


@cache
def pipedrive_table() -> VendorTable:
    return load_tables()["pipedrive"]


IDLE_POLL_COST = 1  # one activity page: the profile is cached, no log is wanted
CREATE_PATH = r"^(/api)?/v1/callLogs$"
# Outcomes a source sends that Pipedrive holds exactly (table.read(table.write(o)) == o).
EXACT_OUTCOMES = (
    Outcome.CONNECTED,
    Outcome.NO_ANSWER,
    Outcome.VOICEMAIL_LEFT,
    Outcome.BUSY,
    Outcome.MESSAGE_LEFT,
    Outcome.WRONG_NUMBER,
)
# What a call written to Pipedrive gives back on a read, exactly. Not listed, and why:
# - source, raw: another system's identity and payload, by definition;
# - user, contact: read back with Pipedrive's own ids (and, for the contact, without name or
#   email: a call log names the person by id only);
# - answered, human: not stored, derived from the outcome on read;
# - answered_at, disposition, purpose, call_method, sequence, sequence_action, transcript,
#   voicemail_url, tags, cost_cents: call logs have no such fields (§2.3, §2.5);
# - recording_url: Pipedrive takes the audio as a file and exposes no URL (§2.11h);
# - deleted_at: a written call is live.
# Kept exactly: whole-second UTC times (sub-seconds are cut), a duration (ended_at equals
# started_at + duration), the six outcomes above, direction (inferred on read from the token
# user's own number), E.164 numbers, a note of single-spaced lines (the marker is stripped).
ROUND_TRIP_FIELDS = (
    "started_at",
    "ended_at",
    "duration_seconds",
    "outcome",
    "direction",
    "from_number",
    "to_number",
    "note",
)


@dataclass
class PipedriveHarness:
    kind: str = "pipedrive"
    clock: ManualClock = field(default_factory=ManualClock)
    faults: FaultPlan = field(default_factory=FaultPlan)
    # A Premium plan (x5): a 1,000-call write with recordings spends ~20k tokens a day.
    tunables: dict[str, Any] = field(default_factory=lambda: {"plan_multiplier": 5})
    settings: dict[str, Any] = field(default_factory=dict)  # PipedriveSettings overrides
    users: int = 1  # world users; the connection is the first one's token
    # Wraps the emulator transport of every connector built here (crashes, side effects).
    wrap: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None
    emulator: PipedriveEmulator = field(init=False)
    pacers: PacerRegistry = field(init=False)
    seeded: bool = False
    world: World | None = None

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
            identities=DatabaseIdentityCache(engine, NAME, clock=self.clock.now),
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
        self.world = world

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
        completed = {"since": FAR_FUTURE, "swept_at": FAR_FUTURE, "tail": 0, "others": True}
        return Cursor(completed=completed)

    def full_pull_cost(self, calls: int) -> int:
        return full_pull_cost(calls)

    def idle_poll_cost(self) -> int:
        return IDLE_POLL_COST

    # --- the write side (WriteHarness) ----------------------------------------------------

    def _world(self) -> World:
        if self.world is None:
            self.seed(40)
        assert self.world is not None
        return self.world

    def writable_call(self, index: int) -> Call:
        """A call from another system by the token user (the seeded admin: writing for other
        users works, but the emulator shows a user's call logs to that user's token only) to a
        person of the seeded company (not a shared main line, so one person has the number)."""
        world = self._world()
        contacts = [c for c in world.contacts_in("pipedrive") if not c.main_line]
        contact = contacts[index % len(contacts)]
        return self._call(index, world, contact.name, contact.email, contact.phone)

    def unresolvable_call(self, index: int) -> Call:
        phone = f"+1617555{index % 10000:04d}"  # no world contact has a 617-555 number
        name, email = f"Newcomer {index}", f"newcomer{index}@nowhere.example"
        return self._call(index, self._world(), name, email, phone)

    def make_resolvable(self, call: Call) -> None:
        """The person is added as a rep types it (national format); time passes beyond the
        cached miss, as between two sync runs."""
        contact = call.contact
        assert contact is not None and contact.phone is not None and contact.phone.e164
        self.emulator.add_person(
            contact.name or "Newcomer",
            phones=[format_phone(contact.phone.e164, 2)],
            emails=[contact.email] if contact.email else [],
        )
        self.clock.advance((MISSING_TTL + timedelta(minutes=1)).total_seconds())

    def _call(self, index: int, world: World, name: str, email: str, phone: str) -> Call:
        user: WorldUser = world.user_list[0]
        outcome = EXACT_OUTCOMES[index % len(EXACT_OUTCOMES)]
        inbound = index % 4 == 3
        seconds = 45 + (index * 37) % 600 if outcome is Outcome.CONNECTED else (index * 7) % 40
        started = world.start + timedelta(days=world.days + 1, minutes=7 * index)
        mine, theirs = PhoneNumber.parse(user.phone), PhoneNumber.parse(phone)
        return Call(
            source=SourceIdentity(system="fake", connection="src", external_id=f"w{index}"),
            started_at=started,
            ended_at=started + timedelta(seconds=seconds),
            duration_seconds=seconds,
            outcome=outcome,
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            from_number=theirs if inbound else mine,
            to_number=mine if inbound else theirs,
            user=Party(name=user.name, email=user.email, phone=mine),
            contact=Party(name=name, email=email, phone=theirs),
            note=f"Call w{index}: asked for pricing",
            recording_url=f"https://recordings.example.com/w{index}.mp3",
        )

    def remote_count(self) -> int:
        return self.emulator.store.call_logs.count()

    def round_trip_fields(self) -> tuple[str, ...]:
        return ROUND_TRIP_FIELDS

    def create_path(self) -> str:
        return CREATE_PATH

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

    def read_back(self, engine: sa.Engine, external_id: str) -> Call:
        """A record callsync wrote, as the read path maps it from what the pull stored (such
        copies are filed under the call they copy, not kept as calls of their own)."""
        return self.connector(engine).to_call(self.stored_raw(engine, external_id))

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
