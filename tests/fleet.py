"""The emulator fleets end-to-end tests run against, built once here: the emulators served on
loopback from one world, the environment that points ``config.example.yaml`` at them, the YAML
of a connection to an emulator (with the emulator's demo credentials), and a migrated store
with a config file written for the fleet."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.amplemarket.emulator.emulator import AmplemarketEmulator
from connectors.close.emulator._emulator import CloseEmulator
from connectors.emulation.fleet import Fleet, start_fleet
from connectors.emulation.world import World
from connectors.outreach.emulator.core import OutreachEmulator
from connectors.pipedrive.emulator.app import PipedriveEmulator
from syncer.config import CallsyncConfig, load_config
from syncer.store import database

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.yaml"
# The variable that points each connection of config.example.yaml at its emulator.
BASE_URL_VARIABLE = {
    "amplemarket": "AMPLEMARKET_BASE_URL",
    "outreach": "OUTREACH_BASE_URL",
    "close": "CLOSE_BASE_URL",
    "pipedrive": "PIPEDRIVE_BASE_URL",
}
KINDS = tuple(BASE_URL_VARIABLE)
# Seeded recording URLs name hosts that do not exist: whatever is not an emulator on loopback
# goes to a closed loopback port, so a test never leaves the machine.
NO_NETWORK = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


@contextmanager
def running(kinds: Sequence[str], world: World) -> Iterator[Fleet]:
    """The emulators of ``kinds`` seeded from ``world`` on free loopback ports, stopped after."""
    fleet = start_fleet(kinds, world)
    try:
        yield fleet
    finally:
        fleet.stop()


def example_env(urls: dict[str, str], database_url: str | None = None) -> dict[str, str]:
    """The environment under which ``config.example.yaml`` talks to the emulators at ``urls``
    (kind -> base URL) and nothing else, and, when given, keeps its store at ``database_url``."""
    env = {BASE_URL_VARIABLE[kind]: url for kind, url in urls.items()} | NO_NETWORK
    return env | ({"CALLSYNC_DATABASE_URL": database_url} if database_url else {})


def example_config(fleet: Fleet, database_url: str) -> CallsyncConfig:
    return load_config(EXAMPLE, example_env(fleet.base_urls, database_url))


# What a connection to each emulator needs besides its base URL.
CREDENTIALS: dict[str, dict[str, str]] = {
    "amplemarket": {"api_key": AmplemarketEmulator.DEMO_API_KEY},
    "outreach": {
        "client_id": OutreachEmulator.DEMO_CLIENT_ID,
        "client_secret": OutreachEmulator.DEMO_CLIENT_SECRET,
        "refresh_token": OutreachEmulator.DEMO_REFRESH_TOKEN,
    },
    "close": {"api_key": CloseEmulator.DEMO_API_KEY},
    "pipedrive": {
        "api_token": PipedriveEmulator.DEMO_API_TOKEN,
        "company_domain": PipedriveEmulator.DEMO_COMPANY_DOMAIN,
    },
}


def connection_yaml(name: str, kind: str, base_url: str, **settings: Any) -> str:
    """The ``connections:`` entry ``name`` for the emulator of ``kind`` at ``base_url``, with
    ``settings`` (plain scalars, or a dict written as a nested mapping) after its credentials."""
    lines = [f"  {name}:", f"    kind: {kind}"]
    keys: dict[str, Any] = {**CREDENTIALS[kind], "base_url": base_url, **settings}
    for key, value in keys.items():
        if isinstance(value, dict):
            lines.append(f"    {key}:")
            lines += [f"      {inner}: {nested}" for inner, nested in value.items()]
        else:
            lines.append(f"    {key}: {value}")
    return "\n".join(lines) + "\n"


@dataclass
class FleetStore:
    """Emulators, a migrated store and the config file written for them."""

    fleet: Fleet
    engine: sa.Engine
    path: Path

    def config(self) -> CallsyncConfig:
        return load_config(self.path)


@contextmanager
def fleet_store(
    kinds: Sequence[str],
    world: World,
    database_url: str,
    path: Path,
    config: Callable[[dict[str, str]], str],
) -> Iterator[FleetStore]:
    """Serve ``kinds``, write ``config(base URLs by kind)`` to ``path`` and migrate the store at
    ``database_url``; the engine is disposed and the emulators stopped after."""
    with running(kinds, world) as fleet:
        engine = database.create_engine(database_url)
        try:
            path.write_text(config(fleet.base_urls))
            database.upgrade(engine)
            yield FleetStore(fleet, engine, path)
        finally:
            engine.dispose()


def config_yaml(database_url: str, connections: Sequence[str], routes: str = "") -> str:
    """A whole config: the store, the ``connection_yaml`` entries, and ``routes`` (YAML of the
    list's items; none when empty)."""
    body = "".join(connections)
    return (
        f"database:\n  url: {database_url}\nconnections:\n{body}"
        f"routes:{chr(10) + routes if routes else ' []' + chr(10)}"
    )


def first_written(engine: sa.Engine) -> tuple[str, str, str]:
    """The first call callsync wrote (``done``, ``written``): its uid, its source record's id
    and the target's record id."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT l.call_uid, c.origin_external_id, l.remote_id FROM call_links l"
                " JOIN calls c ON c.call_uid = l.call_uid"
                " WHERE l.state = 'done' AND l.kind = 'written' ORDER BY l.call_uid"
            )
        ).first()
    assert found is not None, "callsync wrote no call"
    return found[0], found[1], found[2]
