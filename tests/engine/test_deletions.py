"""Deletions per route and the mass-change guard (issue 12), against the Amplemarket and Close
emulators: Amplemarket reports no deletions, so a full sweep (every second here) is what sees
a call go; Close takes the copies callsync writes and can update and delete them."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.emulation.fleet import Fleet
from connectors.emulation.world import World
from syncer.config import load_config
from syncer.plan import SyncPlan, TargetPlan
from syncer.runner import SyncReport, connected, sync_once
from syncer.store import review
from syncer.store.ledger import calls_t, links_t
from tests.fleet import config_yaml, connection_yaml, fleet_store


def config(database_url: str, deletions: str, route_guard: str, urls: dict[str, str]) -> str:
    dispositions = {"connected": "Interested", "no_answer": "No answer"}
    dispositions |= {"voicemail_left": "Left voicemail", "busy": "Busy"}
    ample = connection_yaml(
        "ample", "amplemarket", urls["amplemarket"], rate_share=0.95, sweep_interval="1s",
        dispositions=dispositions,
    )  # fmt: skip
    close = connection_yaml(
        "close", "close", urls["close"], settle_delay_seconds=0, rate_share=1,
        outcomes={"connected": "Interested"},
    )  # fmt: skip
    route = f"  - from: ample\n    to: [close]\n    deletions: {deletions}\n{route_guard}\n"
    return config_yaml(database_url, [ample, close], route)


WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class World2:
    """A synced Amplemarket -> Close pair: the fleet, the store, and a sync step."""

    fleet: Fleet
    engine: sa.Engine
    path: Path

    def sync(self, *, force: bool = False) -> SyncReport:
        time.sleep(1.1)  # past Amplemarket's sweep_interval: this pull is a full sweep
        config = load_config(self.path)
        with connected(config, self.engine) as live:
            return sync_once(config, self.engine, live, force=force)

    def dry_run(self) -> TargetPlan:
        """``sync --dry-run``: the plan of the route's one target."""
        time.sleep(1.1)  # a full sweep, as :meth:`sync`
        config = load_config(self.path)
        plan = SyncPlan()
        with connected(config, self.engine) as live:
            report = sync_once(config, self.engine, live, plan=plan)
        assert not report.failed, report
        return plan.targets[("ample -> close", "close")]

    def links(self, kind: str, state: str = "done") -> list[Any]:
        stmt = (
            sa.select(links_t, calls_t.c.origin_external_id)
            .join(calls_t, calls_t.c.call_uid == links_t.c.call_uid)
            .where(links_t.c.target_connection == "close", calls_t.c.origin_connection == "ample")
            .where(links_t.c.kind == kind, links_t.c.state == state)
            .order_by(links_t.c.call_uid)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt))

    def link(self, call_uid: str) -> Any:
        with self.engine.connect() as conn:
            stmt = sa.select(links_t).where(
                links_t.c.call_uid == call_uid, links_t.c.target_connection == "close"
            )
            return conn.execute(stmt).one()

    def close_record(self, remote_id: str) -> dict[str, Any] | None:
        record: dict[str, Any] | None = self.fleet.emulator("close").calls.get(remote_id)  # type: ignore[attr-defined]
        return record

    def delete_in_ample(self, external_id: str) -> None:
        assert self.fleet.emulator("amplemarket").store.delete_call(external_id)  # type: ignore[attr-defined]

    def edit_in_ample(self, external_id: str, note: str) -> None:
        store = self.fleet.emulator("amplemarket").store  # type: ignore[attr-defined]
        store.put_call({**store.calls.get(external_id), "notes": note})

    def close_writes(self) -> int:
        stats = self.fleet.emulator("close").stats.by_route
        return sum(n for route, n in stats.items() if route.split(" ")[0] in WRITES)

    def tombstoned(self) -> int:
        with self.engine.connect() as conn:
            stmt = sa.select(sa.func.count()).where(calls_t.c.deleted_at.is_not(None))
            return int(conn.execute(stmt).scalar_one())

    def trips(self) -> list[Any]:
        with self.engine.connect() as conn:
            return review.open_items(conn, review.GUARD_TRIP)


@pytest.fixture
def synced(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Iterator[World2]:
    deletions, route_guard = getattr(request, "param", ("ignore", ""))
    text = functools.partial(config, database_url, deletions, route_guard)
    world = World(seed=7, calls=120)
    path = tmp_path / "callsync.yaml"
    with fleet_store(["amplemarket", "close"], world, database_url, path, text) as made:
        synced = World2(made.fleet, made.engine, made.path)
        first = synced.sync()
        assert not first.failed, first
        assert synced.links("written"), "the first sync wrote nothing into Close"
        yield synced


def _deleted_pair(world: World2) -> tuple[Any, Any]:
    """A written copy's and a linked twin's calls, both deleted in Amplemarket."""
    written, twin = world.links("written")[0], world.links("matched")[0]
    world.delete_in_ample(written.origin_external_id)
    world.delete_in_ample(twin.origin_external_id)
    return written, twin


def _close(report: SyncReport) -> Any:
    """The push stats of the one route's one target."""
    [stats] = report.pushes.values()
    return stats["close"]


def test_ignore_leaves_the_copy_as_it_was(synced: World2):
    written, twin = _deleted_pair(synced)
    before = synced.close_record(written.remote_id)
    report = synced.sync()
    assert not report.failed, report
    assert synced.tombstoned() == 2
    assert synced.close_record(written.remote_id) == before
    assert synced.link(written.call_uid).state == "done"
    assert synced.link(twin.call_uid).state == "done"
    assert _close(report).deleted == _close(report).marked == 0


@pytest.mark.parametrize("synced", [("mark", "")], indirect=True)
def test_mark_notes_the_deletion_on_the_copy_and_never_on_a_twin(synced: World2):
    written, twin = _deleted_pair(synced)
    twin_before = synced.close_record(twin.remote_id)
    report = synced.sync()
    assert not report.failed, report
    [stats] = report.pushes.values()
    assert stats["close"].marked == 1
    note = (synced.close_record(written.remote_id) or {}).get("note") or ""
    assert "[deleted in ample on " in note
    assert synced.link(written.call_uid).state == "marked"
    assert synced.close_record(twin.remote_id) == twin_before
    assert synced.link(twin.call_uid).state == "done"
    again = synced.sync()  # marked once: nothing more to write
    assert _close(again).marked == 0


@pytest.mark.parametrize("synced", [("propagate", "")], indirect=True)
def test_propagate_deletes_the_copy_never_a_twin(synced: World2):
    written, twin = _deleted_pair(synced)
    report = synced.sync()
    assert not report.failed, report
    [stats] = report.pushes.values()
    assert stats["close"].deleted == 1
    assert synced.close_record(written.remote_id) is None
    assert synced.link(written.call_uid).state == "deleted"
    assert synced.close_record(twin.remote_id) is not None
    assert synced.link(twin.call_uid).state == "done"


@pytest.mark.parametrize("synced", [("propagate", "")], indirect=True)
def test_propagate_after_a_crash_finds_the_copy_gone_and_records_it(synced: World2):
    """The delete landed but the ledger write did not: the next delete answers 404."""
    written = synced.links("written")[0]
    synced.delete_in_ample(written.origin_external_id)
    synced.fleet.emulator("close").delete_call(written.remote_id)  # type: ignore[attr-defined]
    report = synced.sync()
    assert not report.failed, report
    assert synced.link(written.call_uid).state == "deleted"


@pytest.mark.parametrize("synced", [("propagate", "")], indirect=True)
def test_a_source_that_suddenly_lists_nothing_trips_the_guard(synced: World2):
    with synced.engine.connect() as conn:
        stmt = sa.select(calls_t.c.origin_external_id).where(calls_t.c.origin_connection == "ample")
        ids = list(conn.execute(stmt).scalars())
    for external_id in ids:
        synced.delete_in_ample(external_id)
    synced.fleet.emulator("close").stats.reset()
    report = synced.sync()
    assert report.failed  # exit 1: the trip waits for a person ...
    assert report.failed_pulls() == {}  # ... but the pull itself ran through
    assert "mass-change guard" in (report.guard_trips().get("ample") or "")
    assert synced.tombstoned() == 0
    assert synced.close_writes() == 0
    [trip] = synced.trips()
    assert trip.connection == "ample" and trip.other == "sweep"
    assert trip.detail["unseen"] == len(ids) and trip.detail["stored"] >= len(ids)

    forced = synced.sync(force=True)  # a person checked: the deletions are real
    assert not forced.failed, forced
    assert synced.tombstoned() >= len(ids)
    [stats] = forced.pushes.values()
    assert stats["close"].deleted == len(synced.links("written", "deleted")) > 0


@pytest.mark.parametrize("synced", [("ignore", "    guard: {min_count: 1}")], indirect=True)
def test_rewriting_more_than_max_share_trips_before_the_first_write(synced: World2):
    written = synced.links("written")
    edited = written[: max(2, len(written) // 4)]  # 25 % of what the route wrote
    for row in edited:
        synced.edit_in_ample(row.origin_external_id, "bulk edit by an import gone wrong")
    synced.fleet.emulator("close").stats.reset()
    report = synced.sync()
    assert report.failed
    [stats] = report.pushes.values()
    assert "mass-change guard" in (stats["close"].error or "")
    assert stats["close"].updated == stats["close"].created == 0
    assert synced.close_writes() == 0
    [trip] = synced.trips()
    assert (trip.connection, trip.subject, trip.other) == ("close", "ample", "push")
    assert trip.detail["updates"] == len(edited)
    assert trip.detail["written"] == len(written)

    forced = synced.sync(force=True)
    assert not forced.failed, forced
    assert _close(forced).updated == len(edited)


@pytest.mark.parametrize("synced", [("ignore", "    guard: {min_count: 1}")], indirect=True)
def test_an_accepted_trip_lets_one_run_through_and_the_next_trip_waits_again(synced: World2):
    from syncer import review_resolve
    from syncer.store.twins import Tolerances

    written = synced.links("written")
    edited = written[: max(2, len(written) // 4)]
    for row in edited:
        synced.edit_in_ample(row.origin_external_id, "bulk edit, checked by a person")
    assert synced.sync().failed
    [trip] = synced.trips()
    review_resolve.resolve(
        synced.engine, f"r:{trip.id}", "accept", kinds={}, tolerances=Tolerances()
    )
    accepted = synced.sync()
    assert not accepted.failed, accepted
    assert _close(accepted).updated == len(edited)

    for row in edited:
        synced.edit_in_ample(row.origin_external_id, "a second bulk edit")
    again = synced.sync()
    assert again.failed  # the acceptance was used up: a person must look again
    assert _close(again).updated == 0


def _no_lease(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a dry run took a lease")


@pytest.mark.parametrize("synced", [("propagate", "")], indirect=True)
def test_a_dry_run_lists_what_propagate_would_delete_never_a_twin(
    synced: World2, monkeypatch: pytest.MonkeyPatch
):
    written, twin = _deleted_pair(synced)
    synced.fleet.emulator("close").stats.reset()
    with monkeypatch.context() as patched:
        patched.setattr("syncer.push.held_lease", _no_lease)
        plan = synced.dry_run()
    assert plan.counts["delete"] == 1
    [(uid, why)] = plan.samples["delete"]
    assert uid == written.call_uid
    assert why.endswith(f"would delete {written.remote_id} in the target")
    planned = {uid for examples in plan.samples.values() for uid, _ in examples}
    assert twin.call_uid not in planned
    assert plan.guard is None
    assert synced.close_writes() == 0
    assert synced.link(written.call_uid).state == "done"

    report = synced.sync()  # the real run does what the dry run said
    assert _close(report).deleted == 1
    assert synced.link(written.call_uid).state == "deleted"


@pytest.mark.parametrize(
    "synced", [("mark", "    guard: {min_count: 1, max_count: 2}")], indirect=True
)
def test_a_dry_run_says_the_guard_would_trip_with_its_numbers_and_records_nothing(
    synced: World2, monkeypatch: pytest.MonkeyPatch
):
    written = synced.links("written")
    gone = written[:3]
    for row in gone:
        synced.delete_in_ample(row.origin_external_id)
    synced.fleet.emulator("close").stats.reset()
    with monkeypatch.context() as patched:
        patched.setattr("syncer.push.held_lease", _no_lease)
        plan = synced.dry_run()
    assert plan.guard is not None
    assert (plan.guard["deletions"], plan.guard["updates"]) == (3, 0)
    assert plan.guard["written"] == len(written)
    assert plan.guard["max_count"] == 2
    assert "more than guard.max_count (2)" in plan.guard["why"]
    assert plan.counts["mark"] == 3
    assert sorted(uid for uid, _ in plan.samples["mark"]) == [row.call_uid for row in gone]
    assert synced.trips() == []  # nothing recorded for review
    assert synced.close_writes() == 0
    assert all(synced.link(row.call_uid).state == "done" for row in gone)

    report = synced.sync()  # the real run trips as the dry run said
    assert "mass-change guard" in (_close(report).error or "")
    [trip] = synced.trips()
    assert trip.detail["deletions"] == 3
