"""Start several vendor emulators at once, seeded from one shared world.

Used by ``callsync emulators`` and ``callsync demo``. Emulators are found through the
connector registry, so this module names no vendor. With a state directory, each emulator keeps
its state in ``<dir>/<kind>.sqlite`` and is seeded only the first time, so a restarted fleet
(or a killed callsync) finds the accounts as they were left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import connectors
from connectors.emulation.base import Emulator
from connectors.emulation.faults import FaultPlan
from connectors.emulation.server import RunningServer, serve
from connectors.emulation.state import StateDB
from connectors.emulation.world import World

_SEEDED = "fleet.seeded"


@dataclass
class Fleet:
    servers: dict[str, RunningServer]

    @property
    def base_urls(self) -> dict[str, str]:
        return {kind: server.base_url for kind, server in self.servers.items()}

    def emulator(self, kind: str) -> Emulator:
        return self.servers[kind].emulator

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        for server in self.servers.values():
            server.emulator.state.close()


def build_emulator(
    kind: str, world: World, state_dir: Path | None = None, faults: FaultPlan | None = None
) -> Emulator:
    """One emulator of ``kind`` holding ``world`` (seeded unless its state file already is)."""
    state = StateDB(str(state_dir / f"{kind}.sqlite")) if state_dir else StateDB()
    emulator: Emulator = connectors.emulator_class(kind)(state=state, faults=faults)
    if state.get_meta(_SEEDED) is None:
        emulator.seed_world(world)
        state.set_meta(_SEEDED, f"seed={world.seed} calls={world.calls}")
    return emulator


def start_fleet(
    kinds: Sequence[str],
    world: World,
    *,
    ports: Sequence[int] | None = None,
    state_dir: Path | None = None,
    host: str = "127.0.0.1",
) -> Fleet:
    """Serve one emulator per kind on ``ports`` (0 or None: any free port)."""
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
    chosen = list(ports) if ports is not None else [0] * len(kinds)
    servers: dict[str, RunningServer] = {}
    try:
        for kind, port in zip(kinds, chosen, strict=True):
            servers[kind] = serve(build_emulator(kind, world, state_dir), port, host)
    except BaseException:
        Fleet(servers).stop()
        raise
    return Fleet(servers)
