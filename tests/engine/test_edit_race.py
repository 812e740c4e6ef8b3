"""The race between a pull that notes an edit and a push writing into the same target (issue
12): driven deterministically against the emulators (Outreach -> Close). The push's update is
sent; before its ledger completion, a pull of Close runs (the target wrapper below does it in
between). The completion must neither lose an edit noted meanwhile nor keep as an "edit" what
is only its own write read back; nor may a pull that read the copy before the update landed and
stores it after take the old value for an edit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import Cursor, Resolved
from connectors.close.emulator._events import EventSettings
from connectors.close.marker import split_marker
from connectors.emulation.fleet import Fleet, start_fleet
from connectors.emulation.world import World
from syncer.config import load_config
from syncer.model import Call
from syncer.pull import pull
from syncer.runner import connected, sync_once
from syncer.store import database, ledger, repo
from tests.fleet import config_yaml, connection_yaml, first_written


class Race:
    def __init__(self, fleet: Fleet, engine: sa.Engine, path: Path) -> None:
        self.fleet, self.engine, self.path = fleet, engine, path
        self.call_uid, self.source_id, self.remote_id = first_written(engine)

    def run(self, between: Callable[[Any], None] | None = None) -> dict[str, int]:
        """A sync; ``between(close)`` runs after the update of the call is sent to Close and
        before the push records it."""
        config = load_config(self.path)
        with connected(config, self.engine) as live:
            if between is not None:
                _interpose(live["close"], self.remote_id, between)
            report = sync_once(config, self.engine, live)
        [stats] = report.pushes.values()
        return stats["close"].as_dict()

    def edit_source(self, note: str) -> None:
        self.fleet.emulator("outreach").edit_call(int(self.source_id), {"note": note})  # type: ignore[attr-defined]

    def edit_close(self, note: str) -> None:
        self.fleet.emulator("close").edit_call(  # type: ignore[attr-defined]
            self.remote_id, note=f"{note}\n\ncallsync:{self.call_uid}"
        )

    def close_note(self) -> str | None:
        record: dict[str, Any] = self.fleet.emulator("close").calls.get(self.remote_id)  # type: ignore[attr-defined]
        return split_marker(record.get("note"))[0]

    def canonical_note(self) -> str | None:
        with self.engine.connect() as conn:
            data = conn.execute(
                sa.select(repo.calls_t.c.data).where(repo.calls_t.c.call_uid == self.call_uid)
            ).scalar_one()
        return Call.model_validate(data).note

    def row(self) -> Any:
        with self.engine.connect() as conn:
            return ledger.get(conn, self.call_uid, "close")


def _interpose(close: Any, remote_id: str, between: Callable[[Any], None]) -> None:
    update = close.update

    def update_then(remote: str, call: Call, resolved: Resolved) -> None:
        update(remote, call, resolved)
        if remote == remote_id:
            between(close)

    close.update = update_then


@pytest.fixture
def race(tmp_path: Path, database_url: str) -> Iterator[Race]:
    fleet = start_fleet(["outreach", "close"], World(seed=7, calls=20))
    fleet.emulator("close").events.settings = EventSettings(delay_seconds=0, jitter_seconds=0)  # type: ignore[attr-defined]
    engine = database.create_engine(database_url)
    try:
        path = tmp_path / "callsync.yaml"
        urls = fleet.base_urls
        outreach = connection_yaml("outreach", "outreach", urls["outreach"], settle_delay="0s")
        close = connection_yaml("close", "close", urls["close"], settle_delay_seconds=0)
        routes = "  - from: outreach\n    to: [close]\n"
        path.write_text(config_yaml(database_url, [outreach, close], routes))
        database.upgrade(engine)
        config = load_config(path)
        with connected(config, engine) as live:
            sync_once(config, engine, live)
        yield Race(fleet, engine, path)
    finally:
        engine.dispose()
        fleet.stop()


def test_an_edit_noted_while_a_write_is_under_way_is_kept(race: Race):
    race.edit_source("from the source")
    time.sleep(1.1)  # the rep's edit comes later (the vendors' clocks have whole seconds)

    def rep_edits_then_pull(close: Any) -> None:
        race.edit_close("from the rep, meanwhile")
        assert pull(race.engine, close).ok  # notes the edit on the row the push will complete

    assert race.run(between=rep_edits_then_pull)["updated"] == 1
    row = race.row()
    assert row.target_edits["values"] == {"note": "from the rep, meanwhile"}
    assert row.written_hash == ledger.EDITED  # the next push reconciles it
    race.run()
    assert race.close_note() == "from the rep, meanwhile"  # kept: the later change
    assert race.canonical_note() == "from the rep, meanwhile"  # and it is the call's note now


def test_the_write_read_back_meanwhile_is_no_edit(race: Race):
    race.edit_source("from the source")

    def pull_only(close: Any) -> None:
        assert pull(race.engine, close).ok  # reads callsync's own update back

    assert race.run(between=pull_only)["updated"] == 1
    row = race.row()
    assert not row.target_edits
    assert race.run()["updated"] == 0
    assert race.close_note() == "from the source"
    assert race.canonical_note() == "from the source"


def test_a_copy_read_before_the_update_landed_is_no_edit(race: Race):
    config = load_config(race.path)
    with connected(config, race.engine) as live:
        close = live["close"]
        with race.engine.connect() as conn:
            state = repo.get_cursor(conn, "close", "calls")
        stale = list(close.read("calls", Cursor(state.completed, state.partial)))
        assert any(race.remote_id in str(page.records) for page in stale)
        race.edit_source("from the source")
        report = sync_once(config, race.engine, live, pull_names=["outreach"])
        [stats] = report.pushes.values()
        assert stats["close"].updated == 1  # callsync's update landed, then:
        close.read = lambda stream, cursor: iter(stale)  # the page read before it is stored
        assert pull(race.engine, close).ok
    row = race.row()
    assert not row.target_edits and row.written_hash != ledger.EDITED
    race.run()
    assert race.canonical_note() == "from the source"  # the old note is not a rep's edit
    assert race.close_note() == "from the source"
