"""The Amplemarket connector wired to its in-process emulator, on one manual clock.

The emulator, the connector's ``context.clock``, its pacer and every wait share one
``ManualClock``: pacing and backoff advance the clock instead of sleeping, and the emulator's
500/minute window counts on that same clock, so "limits respected" is measured, not assumed.

Costs are the strategy's (``connectors.amplemarket.cursor``): a first pull is one request per
page of the server's default size (20) over the calls *in the account* (a seeded world puts
about a quarter of its calls in Amplemarket), plus one disposition fetch; an idle poll is one
empty window page.

For the write suite (``WriteHarness``): ``writable_call(i)`` is a call from another system to a
contact of the first seeded world (seeded on demand: users, contacts and a scheduled manual
``phone_call`` task per contact and user); ``unresolvable_call(i)`` is to a person the account
lacks, and ``make_resolvable`` adds that person and a task, as a rep would in the UI.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from connectors.amplemarket.connector import AmplemarketConnector
from connectors.amplemarket.emulator import AmplemarketEmulator
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import ConnectorContext, Cursor
from connectors.emulation import EmulatorTransport, FaultPlan, ManualClock, World, WorldContact
from syncer import mapping
from syncer.connections import DatabaseConnectorState
from syncer.http.ratelimit import PacerRegistry
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity

CONNECTION = "ample"
SERVER_PAGE_SIZE = 20  # the emulator's (and the vendor's observed) default page size
FAR_FUTURE = "2100-01-01T00:00:00+00:00"
# (outcome, answered, human) written by writable_call, in turn.
WRITE_OUTCOMES = (
    (Outcome.CONNECTED, True, True),
    (Outcome.NO_ANSWER, False, False),
    (Outcome.VOICEMAIL, True, False),
)


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
        self.world: World | None = None  # the first seeded world: writable calls use it
        self._anchor = self.clock.now().replace(microsecond=0) - timedelta(hours=1)

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

    def connector(self, engine: sa.Engine, **overrides: Any) -> AmplemarketConnector:
        return AmplemarketConnector(self.context(engine, **overrides))

    # --- the account -------------------------------------------------------------------

    def seed(self, calls: int) -> World:
        """A new world of activity starting now (each seed adds reps, contacts and calls)."""
        self._worlds += 1
        start = self.clock.now().replace(microsecond=0) + timedelta(seconds=1)
        world = World(seed=7 + self._worlds, calls=calls, start=start)
        self.emulator.seed_world(world)
        self.world = self.world or world
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

    # --- writing (WriteHarness) ------------------------------------------------------------

    def write_world(self) -> World:
        if self.world is None:
            self.seed(0)  # users, contacts, dispositions and tasks; no calls
        assert self.world is not None
        return self.world

    def writable_call(self, index: int) -> Call:
        world = self.write_world()
        contacts = [c for c in world.contacts_in("amplemarket") if not c.main_line]
        return self._call(index, contacts[index % len(contacts)], f"w{index}")

    def unresolvable_call(self, index: int) -> Call:
        stranger = WorldContact(
            key=f"stranger{index}",
            name=f"Nadia Newcomer{index}",
            email=f"nadia.newcomer{index}@unknown.example",
            phone=f"+1702555{index % 10000:04d}",
            company="Unknown",
        )
        return self._call(index, stranger, f"u{index}")

    def make_resolvable(self, call: Call) -> None:
        assert call.contact is not None and call.contact.phone is not None
        assert call.user is not None and call.user.email is not None
        contact = self.emulator.add_contact(
            call.contact.name or "New contact",
            call.contact.email or "",
            phone=call.contact.phone.e164 or call.contact.phone.raw,
        )
        for user_id in self._user_ids(call.user.email):
            self.emulator.add_task(user_id, contact["id"])

    def remote_count(self) -> int:
        return self.emulator.store.calls.count()

    def round_trip_fields(self) -> tuple[str, ...]:
        # Lost on the way: source (a new id in Amplemarket); started_at (the server sets
        # start_date to the time of logging); direction (POST /calls has none, logged calls
        # read back without one); disposition / sequence_action (account labels chosen by
        # settings, not the source's); user / contact (read back with Amplemarket's ids, the
        # contact without a number since the direction is unknown); note (no notes field).
        # outcome compares through table.read(table.write(...)); answered / human follow it.
        return (
            "outcome",
            "from_number",
            "to_number",
            "duration_seconds",
            "answered",
            "human",
            "transcript",
            "recording_url",
        )

    def create_path(self) -> str:
        return r"^/calls$"

    def _call(self, index: int, contact: WorldContact, external_id: str) -> Call:
        world = self.write_world()
        user = world.user_list[index % len(world.user_list)]
        outcome, answered, human = WRITE_OUTCOMES[index % len(WRITE_OUTCOMES)]
        theirs, ours = PhoneNumber.parse(contact.phone), PhoneNumber.parse(user.phone)
        inbound = index % 5 == 4
        started: datetime = self._anchor - timedelta(minutes=2 * index)
        return Call(
            source=SourceIdentity(system="fake", connection="src", external_id=external_id),
            started_at=started,
            outcome=outcome,
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            from_number=theirs if inbound else ours,
            to_number=ours if inbound else theirs,
            duration_seconds=(20 + 7 * index % 300) if answered else 0,
            answered=answered,
            human=human,
            user=Party(name=user.name, email=user.email, phone=ours),
            contact=Party(name=contact.name, email=contact.email, phone=theirs),
            note=f"Logged from the fake system ({index})",
            transcript=f"Rep: Hello, this is call {index}." if answered else None,
            recording_url=f"https://recordings.example.com/{external_id}.mp3",
        )

    def _user_ids(self, email: str) -> list[str]:
        """Every user with ``email`` (each seeded world adds its own users)."""
        found = self.emulator.store.users.scan(where=lambda doc: doc["email"] == email)
        return [item.id for item in found]

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
