"""Shared machinery for the local vendor emulators.

Each vendor's emulator lives beside its connector (``connectors/<vendor>/emulator.py``) and
encodes that vendor's documented behaviour; this package holds only what all four share:
request/response types and routing (``http``), deterministic fault injection (``faults``),
state kept in SQLite, in memory or on disk (``state``), rate-limit counters (``limits``), the
emulator base class (``base``), the two ways to run one (``transport`` in-process through httpx,
``server`` over loopback HTTP), and the seeded world generator (``world``).
"""

from __future__ import annotations

from connectors.emulation.base import ApiError, Emulator
from connectors.emulation.clock import Clock, ManualClock, SystemClock
from connectors.emulation.faults import FaultKind, FaultPlan, ScriptedFault
from connectors.emulation.http import EmuRequest, EmuResponse, Router
from connectors.emulation.state import Collection, StateDB
from connectors.emulation.transport import EmulatorTransport
from connectors.emulation.world import World, WorldCall, WorldContact, WorldUser

__all__ = [
    "ApiError",
    "Clock",
    "Collection",
    "EmuRequest",
    "EmuResponse",
    "Emulator",
    "EmulatorTransport",
    "FaultKind",
    "FaultPlan",
    "ManualClock",
    "Router",
    "ScriptedFault",
    "StateDB",
    "SystemClock",
    "World",
    "WorldCall",
    "WorldContact",
    "WorldUser",
]
