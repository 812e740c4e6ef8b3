"""What each vendor's test harness provides to the shared connector suites.

A harness wires one connector to its in-process emulator (no sockets) with a manual clock,
so the contract suite, the cost suite and the end-to-end tests can drive any vendor the same
way. Each vendor implements it in ``tests/connectors/<vendor>/harness.py`` as ``make_harness``.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa

from connectors.base import Connector, Cursor
from connectors.emulation import Emulator, ManualClock
from syncer.model import Call


class Harness(Protocol):
    kind: str
    emulator: Emulator
    clock: ManualClock  # the emulator's clock; the connector's context reads it too

    def connector(self, engine: sa.Engine) -> Connector:
        """A fresh connector (new HTTP clients) on the emulator, its state and tokens in
        ``engine``, waiting without sleeping."""

    def seed(self, calls: int) -> None:
        """Fill the emulated account with about ``calls`` calls (a seeded World)."""

    def add_call(self) -> str:
        """A new call appears in the vendor, as a rep would log it; returns its external id."""

    def edit_call(self, external_id: str) -> None:
        """A user changes the call in the vendor's UI (what changes is the vendor's choice)."""

    def settle(self) -> None:
        """Move the clock far enough that everything written so far is visible to a pull
        (past settle delays, lookbacks, late events)."""

    def far_future_cursor(self, stream: str) -> Cursor:
        """A stored cursor for ``stream`` positioned beyond any data (must read nothing)."""

    def full_pull_cost(self, calls: int) -> int:
        """The documented minimum number of requests for a first pull of ``calls`` calls:
        ceil(calls / largest page) plus the strategy's fixed overhead."""

    def idle_poll_cost(self) -> int:
        """Requests for a pull when nothing changed, whatever the history size."""


class WriteHarness(Harness, Protocol):
    """What a target's harness adds for the shared write suite."""

    def writable_call(self, index: int) -> Call:
        """A canonical call from another system whose user and contact exist in the target."""

    def unresolvable_call(self, index: int) -> Call:
        """Like ``writable_call``, to a number and email no person in the target has."""

    def make_resolvable(self, call: Call) -> None:
        """Add the missing person to the target (as a user would in its UI)."""

    def remote_count(self) -> int:
        """How many calls the target account holds."""

    def round_trip_fields(self) -> tuple[str, ...]:
        """``Call`` fields that survive a write and a read back exactly in this target."""

    def create_path(self) -> str:
        """A regex of the create endpoint's path (for fault injection)."""
