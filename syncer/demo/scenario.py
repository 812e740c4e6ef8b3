"""What happens in the demo's tools: the seeded world, its config, and what reps do between
sync cycles (new calls arrive, one call is edited, one deleted; a few records are malformed).

Vendor-neutral: the emulators are reached by the kinds of the config's connections and driven
only through the ``Emulator`` hooks (``log_world_call`` and friends). Which calls are edited
and deleted follows from the config: arrivals made in the first route's source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

from connectors.emulation.base import Emulator
from connectors.emulation.fleet import Fleet
from connectors.emulation.world import World, WorldCall
from syncer.config import CallsyncConfig

TEMPLATE = "callsync-demo.yaml"
CONFIG_NAME = "callsync.yaml"
DAYS = 3  # the world's calls spread over about DAYS * 10 working hours
EDITED_NOTE = "Edited after the call: wants a follow-up demo on Friday"


def make_world(seed: int, calls: int, now: datetime) -> World:
    """The demo's world, ending about two hours before ``now``; its last calls arrive later."""
    start = (now - timedelta(hours=DAYS * 10 + 2)).replace(minute=0, second=0, microsecond=0)
    return World(seed=seed, calls=calls, start=start, days=DAYS, held_back=max(8, calls // 15))


def write_config(directory: Path, urls: dict[str, str], database_url: str) -> Path:
    """The packaged demo config, filled with the emulators' URLs and the database."""
    text = (files("syncer.demo") / TEMPLATE).read_text(encoding="utf-8")
    text = text.replace("{{database_url}}", database_url)
    for kind, url in urls.items():
        text = text.replace(f"{{{{url:{kind}}}}}", url)
    path = directory / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Logged:
    connection: str
    remote_id: str
    call: WorldCall


@dataclass
class Happened:
    """What reps did in their tools before one cycle."""

    arrived: list[Logged] = field(default_factory=list)
    edited: list[Logged] = field(default_factory=list)
    deleted: list[Logged] = field(default_factory=list)
    malformed: list[tuple[Logged, str]] = field(default_factory=list)  # with what is broken

    def as_dict(self) -> dict[str, object]:
        def ids(items: list[Logged]) -> list[dict[str, str]]:
            return [{"connection": i.connection, "external_id": i.remote_id} for i in items]

        return {
            "arrived": ids(self.arrived),
            "edited": ids(self.edited),
            "deleted": ids(self.deleted),
            "malformed": [
                {"connection": i.connection, "external_id": i.remote_id, "broken": why}
                for i, why in self.malformed
            ],
        }


class Scenario:
    """Drives the emulators of ``fleet`` through the demo's story, one step per cycle."""

    def __init__(self, config: CallsyncConfig, fleet: Fleet, world: World) -> None:
        self.world = world
        self.fleet = fleet
        # One connection per kind reads each emulator: the first configured one.
        self.by_kind: dict[str, str] = {}
        for name, connection in config.connections.items():
            self.by_kind.setdefault(connection.kind, name)
        first = config.routes[0]
        self.source = first.source
        self.target_kinds = [config.connections[name].kind for name in first.targets]
        self.arrivals = [c for c in world.arrivals() if c.system in self.by_kind]
        self.twinned = {c.twin_of for c in self.arrivals if c.twin_of is not None}
        self.logged: list[Logged] = []

    def _emulator(self, call: WorldCall) -> Emulator:
        return self.fleet.emulator(call.system)

    def malformed(self) -> Happened:
        """One malformed record per tool, like its newest seeded call, before the backfill."""
        happened = Happened()
        newest: dict[str, WorldCall] = {}
        for call in self.world.iter_calls():
            if call.system in self.by_kind and call.twin_of is None:
                newest[call.system] = call
        for kind, call in newest.items():
            remote_id, why = self._emulator(call).add_malformed_call(call)
            happened.malformed.append((Logged(self.by_kind[kind], remote_id, call), why))
        return happened

    def steps(self) -> Iterator[Happened]:
        """Before each cycle: half the arrivals; the other half and an edit; a deletion."""
        half = len(self.arrivals) // 2
        while half < len(self.arrivals) and self.arrivals[half].twin_of is not None:
            half += 1  # a twin arrives with its call
        yield Happened(arrived=self._log(self.arrivals[:half]))
        first_batch = [item for item in self.logged if self._writable(item)]
        step = Happened(arrived=self._log(self.arrivals[half:]))
        for item in first_batch[:1]:
            self._emulator(item.call).edit_world_call(item.call, note=EDITED_NOTE)
            step.edited.append(item)
        yield step
        deletable = [
            item
            for item in self.logged
            if item.connection == self.source
            and item.call.twin_of is None
            and item not in step.edited
        ]
        last = Happened(deleted=deletable[-1:])
        for item in last.deleted:
            self._emulator(item.call).delete_world_call(item.call)
        yield last

    def _writable(self, item: Logged) -> bool:
        """A call of the first route's source that every target can hold (its person is
        there): its edit has somewhere to go."""
        call = item.call
        return (
            item.connection == self.source
            and call.twin_of is None
            and call.key not in self.twinned
            and all(self.world.has_contact(kind, call.contact) for kind in self.target_kinds)
        )

    def _log(self, batch: list[WorldCall]) -> list[Logged]:
        """Log ``batch`` as made just now: shifted so the newest ends a minute ago (a call and
        its twin keep their few seconds apart)."""
        if not batch:
            return []
        newest_end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        shift = newest_end - max(call.ended_at for call in batch)
        logged = []
        for call in batch:
            moved = replace(call, started_at=call.started_at + shift)
            remote_id = self._emulator(moved).log_world_call(moved)
            logged.append(Logged(self.by_kind[call.system], remote_id, moved))
        self.logged.extend(logged)
        return logged
