"""The conflict policy against the emulators (Outreach -> Close): a note edited in both tools
between two runs resolves per ``routes[].conflicts``; ``never_overwrite`` keeps the rep's
note; a dry run plans exactly what the real run then does."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.close.emulator._events import EventSettings
from connectors.close.marker import split_marker
from connectors.emulation.fleet import Fleet
from connectors.emulation.world import World
from syncer.config import load_config
from syncer.plan import SyncPlan
from syncer.runner import connected, sync_once
from syncer.store import ledger
from tests.fleet import config_yaml, connection_yaml, fleet_store

KINDS = ["outreach", "close"]


def config(database_url: str, conflicts: str, urls: dict[str, str]) -> str:
    # settle delays off: the test's edits are read by the next run
    connections = [
        connection_yaml("outreach", "outreach", urls["outreach"], settle_delay="0s"),
        connection_yaml("close", "close", urls["close"], settle_delay_seconds=0),
    ]
    routes = "  - from: outreach\n    to: [close]\n" + (conflicts + "\n" if conflicts else "")
    return config_yaml(database_url, connections, routes)


@dataclass
class Sync:
    """Two emulators, one store, and the one call whose copy the test edits."""

    fleet: Fleet
    engine: sa.Engine
    path: Path
    call_uid: str = ""
    source_id: str = ""
    remote_id: str = ""

    def run(self, plan: SyncPlan | None = None) -> dict[str, int]:
        config = load_config(self.path)
        with connected(config, self.engine) as live:
            report = sync_once(config, self.engine, live, plan=plan)
        assert not report.failed_pulls(), report.failed_pulls()
        [stats] = report.pushes.values()
        return stats["close"].as_dict()

    def edit_source(self, note: str, longer: int = 0) -> None:
        """A rep's edit in Outreach: the note, and ``longer`` seconds more talk time."""
        outreach: Any = self.fleet.emulator("outreach")
        changes: dict[str, Any] = {"note": note}
        if longer:
            completed = outreach.store.calls.get(int(self.source_id))["attributes"]["completedAt"]
            end = datetime.fromisoformat(completed.replace("Z", "+00:00"))
            changes["completedAt"] = (end + timedelta(seconds=longer)).isoformat()
        outreach.edit_call(int(self.source_id), changes)

    def edit_target(self, note: str) -> None:
        self.fleet.emulator("close").edit_call(
            self.remote_id, note=f"{note}\n\ncallsync:{self.call_uid}"
        )  # type: ignore[attr-defined]

    def target_duration(self) -> int:
        record: dict[str, Any] = self.fleet.emulator("close").calls.get(self.remote_id)  # type: ignore[attr-defined]
        return int(record["duration"])

    def target_note(self) -> str | None:
        record: dict[str, Any] = self.fleet.emulator("close").calls.get(self.remote_id)  # type: ignore[attr-defined]
        return split_marker(record.get("note"))[0]

    def row(self) -> Any:
        with self.engine.connect() as conn:
            return ledger.get(conn, self.call_uid, "close")


def _start(tmp_path: Path, database_url: str, conflicts: str) -> Iterator[Sync]:
    text = functools.partial(config, database_url, conflicts)
    world = World(seed=7, calls=40)
    with fleet_store(KINDS, world, database_url, tmp_path / "callsync.yaml", text) as made:
        # Close lists an edit in its event log seconds later; here at once, for the next run.
        made.fleet.emulator("close").events.settings = EventSettings(
            delay_seconds=0, jitter_seconds=0
        )  # type: ignore[attr-defined]
        sync = Sync(made.fleet, made.engine, made.path)
        assert sync.run()["created"] > 0
        with made.engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT l.call_uid, c.origin_external_id, l.remote_id FROM call_links l"
                    " JOIN calls c ON c.call_uid = l.call_uid"
                    " WHERE l.state = 'done' AND l.kind = 'written' ORDER BY l.call_uid"
                )
            ).first()
        assert found is not None
        sync.call_uid, sync.source_id, sync.remote_id = found
        yield sync


@pytest.fixture
def default(tmp_path: Path, database_url: str) -> Iterator[Sync]:
    yield from _start(tmp_path, database_url, "")


def _edit_both(sync: Sync, first: str) -> None:
    """Edit the note in both tools, ``first`` first; a second apart (the vendors' clocks)."""
    edits = {
        "source": lambda: sync.edit_source("from the source"),
        "target": lambda: sync.edit_target("from the rep"),
    }
    edits[first]()
    time.sleep(1.1)
    edits["target" if first == "source" else "source"]()


def test_a_reread_copy_is_no_edit(default: Sync):
    assert default.run()["updated"] == 0
    row = default.row()
    assert row.target_edits is None and row.written_fields["held"]["note"] == default.target_note()


def test_latest_keeps_a_newer_edit_in_the_target(default: Sync):
    _edit_both(default, first="source")
    default.run()
    assert default.target_note() == "from the rep"
    assert default.row().reason.startswith("unchanged: edited in the target (note)")
    assert default.run()["updated"] == 0  # reconciled: not planned again


def test_latest_writes_a_newer_edit_in_the_source(default: Sync):
    _edit_both(default, first="target")
    assert default.run()["updated"] == 1
    assert default.target_note() == "from the source"


def test_an_edit_only_in_the_target_is_kept_by_default(default: Sync):
    default.edit_target("from the rep")
    default.run()
    assert default.target_note() == "from the rep"
    assert default.row().target_edits["values"] == {"note": "from the rep"}


@pytest.mark.parametrize(
    ("prefer", "first", "note"),
    [
        ("[outreach, close]", "source", "from the source"),  # latest alone: the rep's
        ("[close]", "target", "from the rep"),  # latest alone: the source's
    ],
)
def test_prefer_ranks_the_connections(
    tmp_path: Path, database_url: str, prefer: str, first: str, note: str
):
    for sync in _start(tmp_path, database_url, f"    conflicts:\n      prefer: {prefer}"):
        _edit_both(sync, first=first)
        sync.run()
        assert sync.target_note() == note


def test_never_overwrite_keeps_the_reps_note(tmp_path: Path, database_url: str):
    for sync in _start(tmp_path, database_url, "    conflicts:\n      never_overwrite: [note]"):
        original = sync.target_note()
        sync.edit_source("from the source")
        sync.run()
        assert sync.target_note() == original
        sync.edit_target("from the rep")
        time.sleep(1.1)
        duration = sync.target_duration()
        sync.edit_source("again from the source", longer=30)
        assert sync.run()["updated"] == 1  # the duration is written ...
        assert sync.target_duration() == duration + 30
        assert sync.target_note() == "from the rep"  # ... and the rep's newer note stays


def test_the_dry_run_plans_what_the_run_does(default: Sync):
    _edit_both(default, first="target")
    plan = SyncPlan()
    planned = default.run(plan)
    done = default.run()
    actions = ("created", "updated", "matched", "parked", "skipped", "stale", "failed")
    assert {k: planned[k] for k in actions} == {k: done[k] for k in actions}
    assert done["updated"] == 1
    [tally] = plan.targets.values()
    assert tally.counts["update"] == 1
