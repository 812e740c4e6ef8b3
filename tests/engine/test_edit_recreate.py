"""A kept target edit survives a target that cannot edit calls (issue 12), against the
emulators over loopback: route Close -> Outreach (Outreach calls cannot be changed through
the API). A rep edits the note of callsync's copy in Outreach and, in the same cycle, the
source changes another field (the duration). Under the default policy the edit is kept: with
``write.recreate_on_change`` the recreated copy carries it; without, the copy is left stale,
and either way the edit becomes the canonical call's note."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.close.emulator._events import EventSettings
from connectors.emulation.fleet import Fleet, start_fleet
from connectors.emulation.world import World
from syncer.config import load_config
from syncer.model import Call
from syncer.runner import connected, sync_once
from syncer.store import database, ledger, repo
from tests.fleet import config_yaml, connection_yaml, first_written


class Copy:
    """One Close call and callsync's copy of it in Outreach."""

    def __init__(self, fleet: Fleet, engine: sa.Engine, path: Path) -> None:
        self.fleet, self.engine, self.path = fleet, engine, path
        self.call_uid, self.source_id, self.remote_id = first_written(engine)

    def run(self) -> dict[str, int]:
        config = load_config(self.path)
        with connected(config, self.engine) as live:
            report = sync_once(config, self.engine, live)
        assert not report.failed_pulls(), report.failed_pulls()
        [stats] = report.pushes.values()
        return stats["outreach"].as_dict()

    def edit_outreach(self, note: str) -> None:
        """A rep edits the note of the copy in Outreach."""
        self.outreach.edit_call(int(self.remote_id), {"note": note})

    def change_source_start(self) -> None:
        """The call's start is corrected in Close (a field Outreach cannot change either)."""
        close: Any = self.fleet.emulator("close")
        record = close.calls.get(self.source_id)
        started = datetime.fromisoformat(record["activity_at"]) - timedelta(minutes=3)
        close.edit_call(self.source_id, activity_at=started.isoformat())

    @property
    def outreach(self) -> Any:
        return self.fleet.emulator("outreach")

    def copies(self) -> list[dict[str, Any]]:
        """The call's copies in Outreach (their attributes)."""
        return [
            doc["attributes"]
            for doc in self.outreach.iter_calls()
            if doc["attributes"].get("vendorCallId") == self.call_uid
        ]

    def canonical(self) -> Call:
        with self.engine.connect() as conn:
            data = conn.execute(
                sa.select(repo.calls_t.c.data).where(repo.calls_t.c.call_uid == self.call_uid)
            ).scalar_one()
        return Call.model_validate(data)

    def row(self) -> Any:
        with self.engine.connect() as conn:
            return ledger.get(conn, self.call_uid, "outreach")


def _start(tmp_path: Path, database_url: str, recreate: bool) -> Iterator[Copy]:
    fleet = start_fleet(["close", "outreach"], World(seed=7, calls=12))
    fleet.emulator("close").events.settings = EventSettings(delay_seconds=0, jitter_seconds=0)  # type: ignore[attr-defined]
    engine = database.create_engine(database_url)
    try:
        path = tmp_path / "callsync.yaml"
        urls = fleet.base_urls
        close = connection_yaml("close", "close", urls["close"], settle_delay_seconds=0)
        outreach = connection_yaml("outreach", "outreach", urls["outreach"], settle_delay="0s")
        routes = "  - from: close\n    to: [outreach]\n    write:\n"
        routes += f"      recreate_on_change: {str(recreate).lower()}\n"
        path.write_text(config_yaml(database_url, [close, outreach], routes))
        database.upgrade(engine)
        config = load_config(path)
        with connected(config, engine) as live:
            sync_once(config, engine, live)
        copy = Copy(fleet, engine, path)
        copy.run()  # the copies read back: nothing more is written
        yield copy
    finally:
        engine.dispose()
        fleet.stop()


@pytest.fixture
def recreating(tmp_path: Path, database_url: str) -> Iterator[Copy]:
    yield from _start(tmp_path, database_url, True)


@pytest.fixture
def stale(tmp_path: Path, database_url: str) -> Iterator[Copy]:
    yield from _start(tmp_path, database_url, False)


def test_the_recreated_copy_carries_the_kept_edit(recreating: Copy):
    old = recreating.remote_id
    time.sleep(1.1)  # the vendors' clocks have whole seconds
    recreating.edit_outreach("from the Outreach rep")
    recreating.change_source_start()
    assert recreating.run()["created"] == 1  # deleted and logged again
    [copy] = recreating.copies()
    assert copy["note"] == "from the Outreach rep"  # the kept edit, on the new copy
    call = recreating.canonical()
    assert call.note == "from the Outreach rep"  # and the call's note now
    assert copy["dialedAt"].startswith(call.started_at.strftime("%Y-%m-%dT%H:%M:%S"))
    row = recreating.row()
    assert (row.state, row.kind) == ("done", "written") and row.remote_id != old
    assert row.written_hash == call.content_hash() and not row.target_edits
    done = recreating.run()
    assert (done["created"], done["updated"], done["stale"]) == (0, 0, 0)  # nothing more
    assert recreating.canonical().note == "from the Outreach rep"


def test_a_stale_copy_still_gives_its_kept_edit_to_the_call(stale: Copy):
    time.sleep(1.1)
    stale.edit_outreach("from the Outreach rep")
    stale.change_source_start()
    assert stale.run()["stale"] == 1  # Outreach cannot change the start, and does not recreate
    [copy] = stale.copies()
    assert copy["note"] == "from the Outreach rep"
    assert stale.canonical().note == "from the Outreach rep"
    assert stale.row().state == "stale"
    assert stale.run()["stale"] == 0  # reported once
    assert stale.canonical().note == "from the Outreach rep"
