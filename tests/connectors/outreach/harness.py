"""The Outreach connector wired to its in-process emulator, on a manual clock.

Everything waits on ``clock``: the emulator's token lifetimes and rate windows, the
connector's window bounds and token refreshes, the pacer and the retry sleeps (which move the
clock instead of sleeping), so a test runs in milliseconds whatever the vendor asks to wait.

For the write suite it also builds calls "from another system" whose user and contact exist
in the seeded org (``writable_call``), or do not (``unresolvable_call``), and the connection
maps canonical outcomes to the seeded org's dispositions (``WRITE_SETTINGS``). Its identity
cache is the database one, with expiry on ``clock``, so a miss ages as the harness moves time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
from syncer.identities import FOUND_TTL, MISSING_TTL
from syncer.mapping import MappingOverrides, VendorTable, load_tables
from syncer.model import (
    Call,
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SequenceAction,
    SourceIdentity,
)
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
# Canonical outcome -> the seeded org's disposition name (OutreachSettings.dispositions).
WRITE_DISPOSITIONS = {
    "connected": "Answered - Interested",
    "no_answer": "No Answer",
    "busy": "Busy",
    "voicemail_left": "Left Voicemail",
    "voicemail_no_message": "Voicemail - No Message",
    "message_left": "Left Message - Gatekeeper",
    "wrong_number": "Wrong Number",
}
WRITE_SETTINGS: dict[str, Any] = {"dispositions": WRITE_DISPOSITIONS, "call_purpose": "Prospecting"}
# Writable calls start from here, one every 7 minutes (before the clock's start: already over).
WRITE_START = datetime(2026, 1, 4, 15, 0, tzinfo=UTC)
# Outcomes whose read-back equals table.read(table.write(outcome)) under this harness's mapping
# (a disposition may refine what Outreach's binary outcome says; these two need no refining).
WRITE_OUTCOMES = (Outcome.CONNECTED, Outcome.NO_ANSWER)
SEQUENCE_ACTIONS = (None, SequenceAction.ADVANCE, None, SequenceAction.FINISH_NO_REPLY)
FAR_FUTURE = "2100-01-01T00:00:00.000Z"
# The first pull costs one token exchange, one read of each label list and one of the reps
# the pages name (a page of 1,000 calls names every rep of the seeded org) besides the pages.
FULL_PULL_OVERHEAD = 4
# An idle poll: one list request, plus a token exchange when the access token ran out.
IDLE_POLL_COST = 2


@functools.cache  # parsing and validating the mapping files is the slow part of a connector
def outreach_table() -> VendorTable:
    overrides = MappingOverrides(outcome_by_disposition=DISPOSITION_OUTCOMES)
    return load_tables()["outreach"].with_overrides(overrides)


class ClockedIdentityCache:
    """``syncer.identities.DatabaseIdentityCache`` (same rows, same TTLs) with expiry on the
    harness clock instead of the wall clock."""

    def __init__(self, engine: sa.Engine, connection: str, clock: ManualClock) -> None:
        self._engine, self._connection, self._clock = engine, connection, clock

    @staticmethod
    def _key(kind: str, key: str) -> str:
        return f"identity:{kind}:{key}"[:255]

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        name = self._key(kind, key)
        with self._engine.connect() as conn:
            stored = repo.get_state(conn, self._connection, [name]).get(name)
        if stored is None or datetime.fromisoformat(stored["expires"]) < self._clock.now():
            return None
        value: dict[str, Any] = stored["value"]
        return value

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        ttl = MISSING_TTL if value.get("missing") else FOUND_TTL
        stored = {"value": value, "expires": (self._clock.now() + ttl).isoformat()}
        with self._engine.begin() as conn:
            repo.put_state(conn, self._connection, {self._key(kind, key): stored})


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
    world: World | None = None

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
            **{**WRITE_SETTINGS, **self.settings},
        )

    def context(self, engine: sa.Engine) -> ConnectorContext:
        settings = self.connection_settings()
        return ConnectorContext(
            name=NAME,
            settings=settings,
            table=outreach_table(),
            phone_region="US",
            state=DatabaseConnectorState(engine, NAME),
            identities=ClockedIdentityCache(engine, NAME, self.clock),
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
        self.world = world
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

    # --- the write suite ------------------------------------------------------------------

    def _world(self) -> World:
        if self.world is None:
            self.seed(20)
        assert self.world is not None
        return self.world

    def writable_call(self, index: int) -> Call:
        """A call from another system to a seeded prospect by a seeded user."""
        world = self._world()
        contact = world.contacts_in("outreach")[index % len(world.contacts_in("outreach"))]
        user = world.user_list[index % len(world.user_list)]
        return self._foreign_call(index, (user.name, user.email, user.phone),
                                  (contact.name, contact.email, contact.phone))  # fmt: skip

    def unresolvable_call(self, index: int) -> Call:
        """Like ``writable_call``, to a number (area code 303) and an email nobody has."""
        user = self._world().user_list[index % len(self._world().user_list)]
        person = (f"New Person{index}", f"new.person{index}@unknown-co.example",
                  f"+1303555{7000 + index:04d}")  # fmt: skip
        return self._foreign_call(index, (user.name, user.email, user.phone), person)

    def make_resolvable(self, call: Call) -> None:
        """A rep adds the prospect in Outreach; the cached miss ages out meanwhile."""
        contact = call.contact
        assert contact is not None and contact.phone is not None
        first, _, last = (contact.name or "New Person").partition(" ")
        self.emulator.add_prospect(
            first_name=first, last_name=last, emails=[contact.email] if contact.email else [],
            phones={"mobilePhones": [contact.phone.raw]},
        )  # fmt: skip
        self.clock.advance(MISSING_TTL.total_seconds() + 1)

    def _foreign_call(
        self, index: int, user: tuple[str, str, str], contact: tuple[str, str, str]
    ) -> Call:
        outcome = WRITE_OUTCOMES[index % len(WRITE_OUTCOMES)]
        direction = Direction.INBOUND if index % 5 == 3 else Direction.OUTBOUND
        started = WRITE_START + timedelta(minutes=7 * index)
        answered = started + timedelta(seconds=6) if outcome is Outcome.CONNECTED else None
        duration = 95 + index if answered else 20
        ended = (answered or started) + timedelta(seconds=duration)
        mine = PhoneNumber.parse(user[2])
        theirs = PhoneNumber.parse(contact[2])
        return Call(
            source=SourceIdentity(system="fake", connection="src", external_id=f"w{index}"),
            started_at=started, outcome=outcome, direction=direction,
            from_number=mine if direction is Direction.OUTBOUND else theirs,
            to_number=theirs if direction is Direction.OUTBOUND else mine,
            answered_at=answered, ended_at=ended,
            duration_seconds=duration if answered else None,
            answered=answered is not None,
            user=Party(name=user[0], email=user[1], phone=mine),
            contact=Party(name=contact[0], email=contact[1], phone=theirs),
            sequence_action=SEQUENCE_ACTIONS[index % len(SEQUENCE_ACTIONS)],
            note=f"Synced call {index}: asked for pricing",
            recording_url=f"https://recordings.fake.test/w{index}.mp3",
            tags=("callsync", f"batch-{index % 3}"),
        )  # fmt: skip

    def remote_count(self) -> int:
        return self.emulator.store.calls.count()

    def round_trip_fields(self) -> tuple[str, ...]:
        # Lost on the way (everything else of ``Call`` is compared):
        # - source: the read-back is an Outreach record (the marker is the foreign call_uid).
        # - from_number/to_number: sent as E.164; the source's raw text is not kept.
        # - duration_seconds: Outreach has no duration; it is read back as completedAt -
        #   answeredAt, so ring time and unanswered calls' durations are lost.
        # - answered, human: not written; read back from the binary outcome / disposition.
        # - disposition, purpose: the connection's configured Outreach labels replace the
        #   source's own (read back with Outreach ids and names).
        # - call_method: Outreach has no dialer-mode field (mappings/outreach.yaml).
        # - sequence: the source's sequence ids mean nothing in Outreach; not written.
        # - user, contact: become Outreach user/prospect ids; names and emails not kept.
        # - transcript, cost_cents: no such call attribute; voicemail_url: read-only.
        # - deleted_at, raw: bookkeeping, not call content.
        # ``outcome`` survives as table.read(table.write(outcome)) (writable calls are
        # connected or no_answer, exact); started_at/answered_at/ended_at at whole seconds.
        return (
            "started_at", "outcome", "direction", "answered_at", "ended_at",
            "sequence_action", "note", "recording_url", "tags",
        )  # fmt: skip

    def create_path(self) -> str:
        return r"^/api/v2/calls$"

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
