"""Edits made in one target travel as a change of the canonical call (issue 12), against the
emulators over loopback: route Outreach -> [Close, Pipedrive]; a rep edits the note of
callsync's copy in Pipedrive (its ``call`` activity, as in Pipedrive's UI). By default the
call's note becomes the edit, Close's copy is updated to it once, Pipedrive is not rewritten;
a later source change wins back everywhere. ``prefer`` and ``never_overwrite`` keep the edit
where ``syncer/conflicts.py`` says. (Pipedrive is the edited side: a call log written for
another rep cannot be read back by the token, so Pipedrive can only be updated stale.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.close.emulator._events import EventSettings
from connectors.close.marker import split_marker
from connectors.emulation.fleet import Fleet, start_fleet
from connectors.emulation.world import World
from connectors.pipedrive.payload import strip_marker
from connectors.pipedrive.records import html_to_text
from syncer.config import load_config
from syncer.model import Call
from syncer.runner import connected, sync_once
from syncer.store import database, ledger, repo
from syncer.store.overrides import overrides_t
from tests.fleet import config_yaml, connection_yaml

TARGETS = ("close", "pipedrive")


@dataclass
class Travel:
    """Three emulators, one store, and one call held by both targets."""

    fleet: Fleet
    engine: sa.Engine
    path: Path
    call_uid: str = ""
    source_id: str = ""
    remote: dict[str, str] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGETS, 0))

    def run(self) -> dict[str, dict[str, int]]:
        config = load_config(self.path)
        with connected(config, self.engine) as live:
            report = sync_once(config, self.engine, live)
        assert not report.failed_pulls(), report.failed_pulls()
        [stats] = report.pushes.values()
        done = {target: stats[target].as_dict() for target in TARGETS}
        for target in TARGETS:
            stats = done[target]
            self.writes[target] += stats["updated"] + stats["created"] + stats["stale"]
        return done

    def settle(self) -> None:
        """Two runs: a change read in one target is written into the other by the next."""
        self.run()
        self.run()

    def edit_source(self, note: str) -> None:
        self.fleet.emulator("outreach").edit_call(int(self.source_id), {"note": note})  # type: ignore[attr-defined]

    def edit_pipedrive(self, note: str) -> None:
        """A rep edits the note of the call's activity in Pipedrive."""
        pipedrive: Any = self.fleet.emulator("pipedrive")
        html = f"<p>{note}</p><p>callsync:{self.call_uid}</p>"
        pipedrive.edit_activity(self._activity(), note=html)

    def _activity(self) -> int:
        pipedrive: Any = self.fleet.emulator("pipedrive")
        return int(pipedrive.call_log(self.remote["pipedrive"])["activity_id"])

    def note(self, target: str) -> str | None:
        """The copy's note as a rep sees it (Pipedrive: on the call's activity)."""
        if target == "close":
            record: dict[str, Any] = self.fleet.emulator("close").calls.get(self.remote["close"])  # type: ignore[attr-defined]
            return split_marker(record.get("note"))[0]
        activity = self.fleet.emulator("pipedrive").activity(self._activity())  # type: ignore[attr-defined]
        assert activity is not None
        return strip_marker(html_to_text(activity.get("note")))

    def canonical(self) -> tuple[str | None, str]:
        """The stored call's note and content hash (what status and report read)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(repo.calls_t.c.data, repo.calls_t.c.content_hash).where(
                    repo.calls_t.c.call_uid == self.call_uid
                )
            ).one()
        call = Call.model_validate(row.data)
        assert call.content_hash() == row.content_hash
        return call.note, row.content_hash

    def overrides(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(overrides_t)))

    def row(self, target: str) -> Any:
        with self.engine.connect() as conn:
            return ledger.get(conn, self.call_uid, target)


def _start(tmp_path: Path, database_url: str, conflicts: str) -> Iterator[Travel]:
    fleet = start_fleet(["outreach", "close", "pipedrive"], World(seed=11, calls=24))
    fleet.emulator("close").events.settings = EventSettings(delay_seconds=0, jitter_seconds=0)  # type: ignore[attr-defined]
    engine = database.create_engine(database_url)
    try:
        path = tmp_path / "callsync.yaml"
        urls = fleet.base_urls
        connections = [
            connection_yaml("outreach", "outreach", urls["outreach"], settle_delay="0s"),
            connection_yaml("close", "close", urls["close"], settle_delay_seconds=0),
            connection_yaml("pipedrive", "pipedrive", urls["pipedrive"]),
        ]
        routes = f"  - from: outreach\n    to: [close, pipedrive]\n{conflicts}\n"
        path.write_text(config_yaml(database_url, connections, routes))
        database.upgrade(engine)
        travel = Travel(fleet, engine, path)
        travel.run()
        with engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT c.call_uid, c.origin_external_id, a.remote_id, b.remote_id"
                    " FROM calls c"
                    " JOIN call_links a ON a.call_uid = c.call_uid"
                    "  AND a.target_connection = 'close'"
                    " JOIN call_links b ON b.call_uid = c.call_uid"
                    "  AND b.target_connection = 'pipedrive'"
                    " WHERE a.state = 'done' AND a.kind = 'written'"
                    "  AND b.state = 'done' AND b.kind = 'written'"
                    " ORDER BY c.call_uid"
                )
            ).first()
        assert found is not None, "no call was written into both targets"
        travel.call_uid, travel.source_id = found[0], found[1]
        travel.remote = {"close": found[2], "pipedrive": found[3]}
        travel.settle()  # the copies read back: nothing more is written
        travel.writes = dict.fromkeys(TARGETS, 0)
        yield travel
    finally:
        engine.dispose()
        fleet.stop()


@pytest.fixture
def latest(tmp_path: Path, database_url: str) -> Iterator[Travel]:
    yield from _start(tmp_path, database_url, "")


def test_an_edit_in_one_target_reaches_the_other(latest: Travel):
    before = latest.canonical()
    time.sleep(1.1)  # the vendors' clocks have whole seconds
    latest.edit_pipedrive("from the Pipedrive rep")
    latest.settle()
    assert latest.note("close") == "from the Pipedrive rep"
    assert latest.note("pipedrive") == "from the Pipedrive rep"
    note, digest = latest.canonical()
    assert note == "from the Pipedrive rep" and digest != before[1]
    assert latest.writes == {"close": 1, "pipedrive": 0}  # written once, where it was missing
    assert latest.row("pipedrive").written_hash == digest  # Pipedrive holds the call as it is
    latest.settle()
    assert latest.writes == {"close": 1, "pipedrive": 0}  # and nothing is written twice


def test_a_later_source_change_wins_back_everywhere(latest: Travel):
    time.sleep(1.1)
    latest.edit_pipedrive("from the Pipedrive rep")
    latest.settle()
    time.sleep(1.1)
    latest.edit_source("from the source, later")
    latest.settle()
    assert latest.note("close") == "from the source, later"
    assert latest.note("pipedrive") == "from the source, later"
    assert latest.canonical()[0] == "from the source, later"
    assert latest.overrides() == []
    assert latest.writes == {"close": 2, "pipedrive": 1}


def test_an_unrelated_source_change_keeps_the_edit(latest: Travel):
    time.sleep(1.1)
    latest.edit_pipedrive("from the Pipedrive rep")
    latest.settle()
    outreach: Any = latest.fleet.emulator("outreach")
    attributes = outreach.store.calls.get(int(latest.source_id))["attributes"]
    time.sleep(1.1)
    outreach.edit_call(int(latest.source_id), {"note": attributes["note"]})  # touched, same note
    latest.settle()
    assert latest.canonical()[0] == "from the Pipedrive rep"
    assert latest.note("pipedrive") == "from the Pipedrive rep"


def test_prefer_the_target_keeps_its_edit_against_a_later_source_change(
    tmp_path: Path, database_url: str
):
    for travel in _start(tmp_path, database_url, "    conflicts:\n      prefer: [pipedrive]"):
        time.sleep(1.1)
        travel.edit_pipedrive("from the Pipedrive rep")
        travel.settle()
        time.sleep(1.1)
        travel.edit_source("from the source, later")
        travel.settle()
        assert travel.canonical()[0] == "from the Pipedrive rep"
        assert travel.note("close") == "from the Pipedrive rep"
        assert travel.note("pipedrive") == "from the Pipedrive rep"
        assert travel.writes == {"close": 1, "pipedrive": 0}


def test_prefer_the_source_overwrites_the_edit_and_it_goes_nowhere(
    tmp_path: Path, database_url: str
):
    for travel in _start(tmp_path, database_url, "    conflicts:\n      prefer: [outreach]"):
        before = travel.canonical()
        time.sleep(1.1)
        travel.edit_pipedrive("from the Pipedrive rep")
        travel.settle()
        assert travel.note("pipedrive") == before[0]  # the source's note written back
        assert travel.note("close") == before[0]
        assert travel.canonical() == before
        assert travel.overrides() == []
        assert travel.writes == {"close": 0, "pipedrive": 1}


def test_never_overwrite_keeps_the_edit_in_its_target_only(tmp_path: Path, database_url: str):
    conflicts = "    conflicts:\n      never_overwrite: [note]"
    for travel in _start(tmp_path, database_url, conflicts):
        before = travel.canonical()
        time.sleep(1.1)
        travel.edit_pipedrive("from the Pipedrive rep")
        travel.settle()
        assert travel.note("pipedrive") == "from the Pipedrive rep"
        assert travel.note("close") == before[0]
        assert travel.canonical() == before
        assert travel.writes == {"close": 0, "pipedrive": 0}
