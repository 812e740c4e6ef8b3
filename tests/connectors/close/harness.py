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

import httpx
import sqlalchemy as sa

from connectors.base import ConnectorContext, Cursor
from connectors.close.connector import CloseConnector
from connectors.close.emulator import CloseEmulator
from connectors.close.settings import CloseSettings
from connectors.emulation import EmulatorTransport, FaultPlan, ManualClock, World
from syncer import mapping
from syncer.connections import DatabaseConnectorState
from syncer.http.ratelimit import PacerRegistry
from syncer.identities import DatabaseIdentityCache
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity

NAME = "close-test"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTLE = timedelta(minutes=10)  # > settle delay (2 min) + event rescan (5 min) + event lateness
EVENT_ACTIONS = 3  # updated, created, deleted: one request each on an idle poll
FAR_FUTURE = "2100-01-01T00:00:00+00:00"
WRITE_WORLD_SEED = 1  # the people writable calls go to (the first seed() uses it too)
WRITE_START = START - timedelta(days=28)  # when the writable calls happened (before START)
WRITE_OUTCOMES = (
    Outcome.CONNECTED,
    Outcome.NO_ANSWER,
    Outcome.BUSY,
    Outcome.VOICEMAIL_LEFT,
    Outcome.WRONG_NUMBER,
    Outcome.MESSAGE_LEFT,
    Outcome.FAILED,
)


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
        self._write_world: World | None = None

    def connector(
        self, engine: sa.Engine, *, transport: httpx.BaseTransport | None = None, **settings: Any
    ) -> CloseConnector:
        """``transport`` wraps the emulator's (tests that look at the requests sent)."""
        context = ConnectorContext(
            name=NAME,
            settings=self.settings.model_copy(update=settings) if settings else self.settings,
            table=self.table,
            phone_region="US",
            state=DatabaseConnectorState(engine, NAME),
            identities=DatabaseIdentityCache(engine, NAME),
            transport=transport or EmulatorTransport(self.emulator),
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
        multi-page window, one outcome and one user fetch, one request per event action."""
        n = max(calls, self.seeded)
        size = self.settings.page_size
        if n <= size:
            return 1 + (2 if n else 0) + EVENT_ACTIONS
        pages = 1 + math.ceil((n - size) / (size - 1))
        return pages + 1 + 1 + 1 + EVENT_ACTIONS

    def idle_poll_cost(self) -> int:
        """One empty creation window and one request per event action."""
        return 1 + EVENT_ACTIONS

    # --- writing (tests/connectors/harness.py WriteHarness) --------------------------------

    def write_world(self) -> World:
        """The users and contacts writable calls go to, seeded into Close once (no calls)."""
        if self._write_world is None:
            self._write_world = World(seed=WRITE_WORLD_SEED, calls=0, start=WRITE_START)
            self.emulator.seed_world(self._write_world)
        return self._write_world

    def writable_call(self, index: int) -> Call:
        """A call from another system to a contact and by a user who both exist in Close."""
        world = self.write_world()
        contacts = world.contacts_in("close")
        contact = contacts[index % len(contacts)]
        user = world.user_list[index % len(world.user_list)]
        return _call(
            index,
            Party(name=user.name, email=user.email, phone=PhoneNumber.parse(user.phone)),
            Party(name=contact.name, email=contact.email, phone=PhoneNumber.parse(contact.phone)),
        )

    def unresolvable_call(self, index: int) -> Call:
        """Like ``writable_call``, to a number and e-mail no Close contact has."""
        call = self.writable_call(index)
        stranger = Party(
            name=f"Stranger {index}",
            email=f"stranger{index}@nowhere.example",
            phone=PhoneNumber.parse(f"+1628{5550100 + index:07d}"),
        )
        assert call.user is not None
        return _call(index, call.user, stranger)

    def make_resolvable(self, call: Call) -> None:
        """Add the missing person as a user would in Close's UI; later attempts find it (the
        clock moves past the connector's miss TTL, as a retry on a later run would)."""
        contact = call.contact
        assert contact is not None and contact.phone is not None
        self.emulator.add_lead(
            f"{contact.name} Inc",
            [{"name": contact.name, "phones": [contact.phone.e164], "emails": [contact.email]}],
        )
        self.clock.advance(self.settings.identity_miss_seconds + 1)

    def remote_count(self) -> int:
        return self.emulator.store.calls.count()

    def round_trip_fields(self) -> tuple[str, ...]:
        """Fields read back exactly. Lost on the way (see connectors/close/outbound.py):
        ``outcome`` / ``answered`` / ``human`` (Close's ``disposition`` is read-only, and the
        read path derives the outcome from it: API-logged calls read back ``unknown``; the
        table's ``outcome_status`` cannot be read, so table.read(table.write(o)) is unsupported);
        ``from_number`` / ``to_number`` (only the other side's ``phone`` is writable, the rep's
        ``local_phone`` is derived by Close telephony); ``user`` / ``contact`` (re-expressed as
        Close ids); ``disposition`` (becomes Close's custom outcome, if configured);
        ``cost_cents`` (Close prices API-logged calls "0"); ``source`` (a new Close identity)."""
        return (
            "direction",
            "started_at",
            "ended_at",
            "duration_seconds",
            "note",
            "recording_url",
        )

    def create_path(self) -> str:
        return r"^/api/v1/activity/call/$"


def _call(index: int, user: Party, contact: Party) -> Call:
    """A deterministic call of another system between ``user`` and ``contact``."""
    outcome = WRITE_OUTCOMES[index % len(WRITE_OUTCOMES)]
    direction = Direction.INBOUND if index % 3 == 2 else Direction.OUTBOUND
    # 40 minutes apart: the first 1008 calls all happened before START, so none can look like
    # a twin of a seeded call (those start after START).
    started = WRITE_START + timedelta(minutes=40 * index, seconds=index % 7)
    duration = 30 + 17 * index if outcome is Outcome.CONNECTED else 5 + index % 20
    ours, theirs = user.phone, contact.phone
    return Call(
        source=SourceIdentity(system="fake", connection="src", external_id=f"w{index}"),
        started_at=started,
        ended_at=started + timedelta(seconds=duration),
        duration_seconds=duration,
        outcome=outcome,
        direction=direction,
        from_number=ours if direction is Direction.OUTBOUND else theirs,
        to_number=theirs if direction is Direction.OUTBOUND else ours,
        answered=outcome in (Outcome.CONNECTED, Outcome.WRONG_NUMBER, Outcome.MESSAGE_LEFT),
        user=user,
        contact=contact,
        note=f"Write test call {index}",
        recording_url=f"https://recordings.example.com/fake/w{index}.mp3",
    )


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
