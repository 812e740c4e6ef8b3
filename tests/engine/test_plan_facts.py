"""What the store already knows decides before the target is asked (issue 12): a person the
look-up cache knows the target lacks parks the call, and two look-alike records of the target's
own send it to review with both, in a dry run without a request to the target. Against the
Amplemarket and Close emulators (``test_deletions.py``'s world)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.emulation.world import World
from syncer import review_queue, review_resolve
from syncer.config import load_config
from syncer.plan import SyncPlan, TargetPlan
from syncer.runner import connected, sync_once
from syncer.store.ledger import calls_t
from syncer.store.twins import Tolerances
from tests.engine.test_deletions import World2, config
from tests.fleet import fleet_store

ROUTE = ("ample -> close", "close")


@pytest.fixture
def synced(tmp_path: Path, database_url: str) -> Iterator[World2]:
    text = functools.partial(config, database_url, "ignore", "")
    path = tmp_path / "callsync.yaml"
    world = World(seed=7, calls=120)
    with fleet_store(["amplemarket", "close"], world, database_url, path, text) as made:
        synced = World2(made.fleet, made.engine, made.path)
        assert not synced.sync().failed
        yield synced


def _dry_run(world: World2, *, pull: bool, asked: list[str] | None = None) -> TargetPlan:
    """A dry run (pulling every connection, or none); ``asked`` collects the calls the Close
    connector was asked to resolve."""
    config = load_config(world.path)
    plan = SyncPlan()
    with connected(config, world.engine) as live:
        if asked is not None:
            resolve = live["close"].resolve

            def counted(call: Any, options: Any) -> Any:
                asked.append(call.call_uid)
                return resolve(call, options)

            live["close"].resolve = counted  # type: ignore[method-assign]
        names = None if pull else []
        sync_once(config, world.engine, live, pull_names=names, plan=plan)
    return plan.targets[ROUTE]


def _close_requests(world: World2) -> int:
    return sum(world.fleet.emulator("close").stats.by_route.values())


def test_a_person_known_missing_parks_the_call_in_a_dry_run_without_a_request(synced: World2):
    parked = synced.links("written", "parked")
    assert parked and all("no Close person with" in row.reason for row in parked)
    synced.fleet.emulator("close").stats.reset()
    asked: list[str] = []
    plan = _dry_run(synced, pull=False, asked=asked)
    assert dict(plan.counts) == {"park": len(parked)}
    for uid, why in plan.samples["park"]:
        assert uid in {row.call_uid for row in parked}
        assert "no Close person with" in why and "look-up cache" in why
    assert asked == []  # the planner decided from the store: the connector was not asked
    assert _close_requests(synced) == 0
    assert synced.links("written", "parked") == parked  # a dry run records nothing


def _look_alikes(world: World2) -> tuple[str, list[str]]:
    """A new Amplemarket call, and two records of it a rep logged twice by hand in Close."""
    matched = world.links("matched")[0]
    ample = world.fleet.emulator("amplemarket").store  # type: ignore[attr-defined]
    close = world.fleet.emulator("close")
    original = ample.calls.get(matched.origin_external_id)
    twin = close.calls.get(matched.remote_id)  # type: ignore[attr-defined]
    start = datetime.fromisoformat(original["start_date"]) - timedelta(hours=3)
    doc = {k: v for k, v in original.items() if not k.startswith("_by")}
    doc["id"] = ample.new_id(int(start.timestamp() * 1000))
    doc["start_date"] = start.isoformat().replace("+00:00", "Z")
    ample.put_call(doc)
    remote = [
        close.add_close_call(  # type: ignore[attr-defined]
            lead_id=twin["lead_id"],
            contact_id=twin["contact_id"],
            user_id=twin["user_id"],
            direction=twin["direction"],
            duration=twin["duration"],
            phone=twin["phone"],
            activity_at=start,
        )["id"]
        for _ in range(2)
    ]
    return str(doc["id"]), sorted(remote)


def _uid_of(world: World2, external_id: str) -> str:
    with world.engine.connect() as conn:
        stmt = sa.select(calls_t.c.call_uid).where(calls_t.c.origin_external_id == external_id)
        return str(conn.execute(stmt).scalar_one())


def test_two_look_alike_records_in_the_target_put_the_call_in_review(synced: World2):
    external_id, remote = _look_alikes(synced)
    synced.fleet.emulator("close").stats.reset()
    plan = _dry_run(synced, pull=True)
    uid = _uid_of(synced, external_id)
    [(planned, why)] = plan.samples["review"]
    assert planned == uid
    assert why == f"could be any of {', '.join(remote)} in the target"
    assert plan.counts["create"] == plan.counts["link"] == 0
    assert synced.close_writes() == 0

    report = synced.sync()  # the real run: the same decision, recorded for a person
    assert not report.failed, report
    assert synced.close_writes() == 0
    row = synced.link(uid)
    assert row.state == "needs_review"
    assert row.evidence == {"candidates": remote}
    [item] = [
        item
        for item in review_queue.items(synced.engine, {}, Tolerances())
        if item.call_uid == uid and item.connection == "close"
    ]
    assert item.kind == review_queue.LOOKALIKES
    assert item.evidence["candidates"] == remote
    assert item.options == (*remote, "skip")

    said = review_resolve.resolve(
        synced.engine, item.id, remote[1], kinds={}, tolerances=Tolerances()
    )
    assert said.startswith(f"linked to {remote[1]}")
    row = synced.link(uid)
    assert (row.state, row.kind, row.remote_id) == ("done", "matched", remote[1])
    again = synced.sync()  # linked: nothing is written onto the record a rep logged
    assert not again.failed, again
    assert synced.close_writes() == 0
    assert synced.link(uid).remote_id == remote[1]
