"""A seeded, vendor-neutral world of users, contacts and calls to fill the emulators with.

The same seed always gives the same world. Each vendor emulator turns the world into its own
records (``Emulator.seed_world``), so the four accounts tell one consistent story:
- several reps make calls to many contacts, with realistic outcome and duration mixes;
- timestamps are second-precision with many ties (power dialers start calls in the same second);
- some calls are logged independently in two tools (same numbers, starts a few seconds apart,
  durations within a couple of seconds);
- some contacts exist in one tool but are missing in another;
- some contacts share one number (a company's main line);
- numbers are shown in the varied national/international formats vendors really return;
- with ``held_back=N``, the last N calls (and their twins) are not in the accounts yet: seeding
  skips them and ``arrivals()`` yields them, for a demo or a test to log while a sync runs.

Calls are generated lazily in start order, so a world of a million calls costs no memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SYSTEMS = ("amplemarket", "outreach", "close", "pipedrive")

# Canonical outcome names (syncer.model.Outcome values) with their share of calls.
OUTCOME_MIX = (
    ("no_answer", 0.38),
    ("connected", 0.27),
    ("voicemail_left", 0.15),
    ("voicemail_no_message", 0.05),
    ("busy", 0.05),
    ("message_left", 0.04),
    ("wrong_number", 0.03),
    ("failed", 0.03),
)

_FIRST = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tariq",
    "Uma",
    "Vera",
    "Wen",
    "Xavi",
    "Yara",
    "Zoe",
)
_LAST = (
    "Silva",
    "Okafor",
    "Nguyen",
    "Schmidt",
    "Haddad",
    "Kowalski",
    "Rossi",
    "Tanaka",
    "Dubois",
    "Larsen",
    "Moreau",
    "Patel",
    "Garcia",
    "Cohen",
    "Novak",
    "Ivanova",
)
_COMPANIES = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
)


@dataclass(frozen=True)
class WorldUser:
    key: str
    name: str
    email: str
    phone: str  # E.164


@dataclass(frozen=True)
class WorldContact:
    key: str
    name: str
    email: str
    phone: str  # E.164
    company: str
    main_line: bool = False  # True when the number is the company's shared main line


@dataclass(frozen=True)
class WorldCall:
    key: str
    system: str  # the tool the call was made in (or, for a copy, logged in)
    user: WorldUser
    contact: WorldContact
    direction: str  # "outbound" | "inbound"
    started_at: datetime  # UTC, second precision
    duration: int  # seconds
    outcome: str  # canonical outcome name
    note: str | None
    has_recording: bool
    twin_of: str | None = None  # key of the call this one independently duplicates

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration)


def format_phone(e164: str, style: int) -> str:
    """The same North-American number the way different tools and people write it."""
    if not e164.startswith("+1") or len(e164) != 12:
        return e164
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return (
        e164,
        f"+1 {area}-{exchange}-{line}",
        f"({area}) {exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"+1 {area}{exchange}{line}",
    )[style % 5]


@dataclass
class World:
    seed: int = 7
    calls: int = 200
    users: int = 5
    start: datetime = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    days: int = 20
    systems: tuple[str, ...] = SYSTEMS
    twin_share: float = 0.1
    missing_share: float = 0.1
    main_line_share: float = 0.06
    held_back: int = 0  # the last N calls (and their twins) arrive later: see ``arrivals``
    user_list: list[WorldUser] = field(init=False)
    contact_list: list[WorldContact] = field(init=False)
    _missing: dict[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.user_list = [self._user(i) for i in range(self.users)]
        self.contact_list = self._contacts(rng, max(20, self.calls // 8))
        self._missing = {
            system: frozenset(c.key for c in self.contact_list if rng.random() < self.missing_share)
            for system in self.systems
        }

    @staticmethod
    def _user(i: int) -> WorldUser:
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
        return WorldUser(
            f"u{i + 1}",
            f"{first} {last}",
            f"{first.lower()}@callsync-demo.test",
            f"+1415555{1000 + i:04d}",
        )

    def _contacts(self, rng: random.Random, count: int) -> list[WorldContact]:
        contacts: list[WorldContact] = []
        main_lines: dict[str, str] = {}
        for i in range(count):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            company = rng.choice(_COMPANIES)
            main_line = rng.random() < self.main_line_share
            if main_line:
                phone = main_lines.setdefault(company, f"+1212555{len(main_lines):04d}")
            else:
                phone = f"+1{rng.choice(('415', '646', '312', '512', '617'))}{2000000 + i:07d}"
            email = f"{first.lower()}.{last.lower()}{i}@{company.lower()}.example"
            contacts.append(
                WorldContact(f"c{i + 1}", f"{first} {last}", email, phone, company, main_line)
            )
        return contacts

    def contacts_in(self, system: str) -> list[WorldContact]:
        """The contacts that exist in ``system`` (some are missing in each tool)."""
        missing = self._missing.get(system, frozenset())
        return [c for c in self.contact_list if c.key not in missing]

    def has_contact(self, system: str, contact: WorldContact) -> bool:
        return contact.key not in self._missing.get(system, frozenset())

    def iter_calls(self, system: str | None = None) -> Iterator[WorldCall]:
        """Every call already in the accounts, in start order; with ``system``, only the calls
        logged in that tool. The held-back calls are left out (``arrivals`` has them)."""
        for call, held in self._generate():
            if not held and (system is None or call.system == system):
                yield call

    def arrivals(self) -> Iterator[WorldCall]:
        """The held-back calls, in start order (a twin right after its call): the calls that
        are logged in their tools after the accounts were seeded."""
        for call, held in self._generate():
            if held:
                yield call

    def _generate(self) -> Iterator[tuple[WorldCall, bool]]:
        """Each call with whether it is held back. The random draws do not depend on
        ``held_back``, so the same seed gives the same calls with or without it."""
        rng = random.Random(self.seed * 7919 + 1)
        mean_gap = self.days * 10 * 3600 / max(1, self.calls)
        clock = self.start
        outcomes, weights = zip(*OUTCOME_MIX, strict=True)
        for index in range(self.calls):
            # Round gaps down to whole seconds: many calls share a second, as in real data.
            clock += timedelta(seconds=int(rng.expovariate(1 / mean_gap)))
            outcome = rng.choices(outcomes, weights)[0]
            call = WorldCall(
                key=f"k{index + 1}",
                system=self.systems[index % len(self.systems)],
                user=rng.choice(self.user_list),
                contact=rng.choice(self.contact_list),
                direction="inbound" if rng.random() < 0.12 else "outbound",
                started_at=clock,
                duration=_duration(rng, outcome),
                outcome=outcome,
                note=rng.choice((None, None, "Asked for pricing", "Call back next week")),
                has_recording=outcome == "connected" and rng.random() < 0.6,
            )
            held = index >= self.calls - self.held_back
            yield call, held
            if len(self.systems) > 1 and rng.random() < self.twin_share:
                yield self._twin(rng, call), held

    def _twin(self, rng: random.Random, call: WorldCall) -> WorldCall:
        others = [s for s in self.systems if s != call.system]
        return WorldCall(
            key=f"{call.key}-twin",
            system=rng.choice(others),
            user=call.user,
            contact=call.contact,
            direction=call.direction,
            started_at=call.started_at + timedelta(seconds=rng.randint(1, 20)),
            duration=max(0, call.duration + rng.randint(-2, 2)),
            outcome=call.outcome,
            note=call.note,
            has_recording=False,
            twin_of=call.key,
        )


def _duration(rng: random.Random, outcome: str) -> int:
    if outcome == "connected":
        return max(5, int(rng.lognormvariate(4.8, 0.8)))
    if outcome in ("voicemail_left", "message_left"):
        return rng.randint(20, 75)
    if outcome in ("busy", "failed", "wrong_number"):
        return rng.randint(0, 15)
    return rng.randint(0, 35)
