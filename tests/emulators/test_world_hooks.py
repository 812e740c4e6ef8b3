"""The vendor-neutral hooks ``callsync demo`` drives the emulators with (``Emulator.log_world_call``
and friends), per vendor, through the real connector's pull: a call logged late shows up in the
next pull, its edited note too, its deletion is seen, and a malformed record is quarantined.

The clock moves a day before the deletion's pull: some vendors report no deletions, and only a
full sweep (daily by default) sees them go.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.emulation.world import World, WorldCall
from syncer.pull import pull

KINDS = ("amplemarket", "close", "outreach", "pipedrive")
EDITED = "Edited by a rep after the call"


def make_harness(kind: str) -> Any:
    return importlib.import_module(f"tests.connectors.{kind}.harness").make_harness()


def seeded(harness: Any) -> World:
    start = harness.clock.now().replace(microsecond=0) - timedelta(days=3)
    world = World(seed=11, calls=40, start=start, days=2, held_back=4)
    harness.emulator.seed_world(world)
    return world


def arriving(world: World, kind: str, harness: Any) -> WorldCall:
    """A held-back call of ``kind``, made a minute ago (the rep just hung up)."""
    call = next(c for c in world.arrivals() if c.system == kind and c.twin_of is None)
    ago = timedelta(seconds=call.duration + 60)
    return replace(call, started_at=harness.clock.now().replace(microsecond=0) - ago)


def pulled(harness: Any, engine: sa.Engine, advance: float = 300) -> dict[str, Any]:
    """Move the clock past every settle delay, pull, and return what the store holds by id."""
    harness.clock.advance(advance)
    connector = harness.connector(engine)
    try:
        result = pull(engine, connector)
        assert result.ok, result.error
    finally:
        connector.close()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT external_id, raw, deleted_at FROM source_records WHERE connection = :c"
            ),
            {"c": connector.context.name},
        ).all()
    return {row.external_id: row for row in rows}


def quarantined(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT record_key, reason FROM quarantine")).all()
    return {row.record_key: row.reason for row in rows}


@pytest.mark.parametrize("kind", KINDS)
def test_held_back_calls_are_not_seeded_and_arrive_through_the_hooks(kind, engine):
    harness = make_harness(kind)
    world = seeded(harness)
    before = pulled(harness, engine)
    call = arriving(world, kind, harness)

    remote_id = harness.emulator.log_world_call(call)

    assert remote_id not in before
    stored = pulled(harness, engine)
    assert remote_id in stored and stored[remote_id].deleted_at is None
    assert harness.emulator.world_call_id(call) == remote_id


@pytest.mark.parametrize("kind", KINDS)
def test_an_edited_and_a_deleted_world_call_are_seen_by_the_next_pulls(kind, engine):
    harness = make_harness(kind)
    world = seeded(harness)
    call = arriving(world, kind, harness)
    remote_id = harness.emulator.log_world_call(call)
    assert EDITED not in json.dumps(pulled(harness, engine)[remote_id].raw)

    harness.emulator.edit_world_call(call, note=EDITED)
    assert EDITED in json.dumps(pulled(harness, engine)[remote_id].raw)

    harness.emulator.delete_world_call(call)
    assert pulled(harness, engine, advance=86_400 + 300)[remote_id].deleted_at is not None


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_call_is_quarantined_with_its_reason_and_the_rest_stored(kind, engine):
    harness = make_harness(kind)
    world = seeded(harness)
    pulled(harness, engine)
    good = arriving(world, kind, harness)
    good_id = harness.emulator.log_world_call(good)

    bad_id, broken = harness.emulator.add_malformed_call(good)

    stored = pulled(harness, engine)
    reasons = quarantined(engine)
    assert bad_id not in stored and good_id in stored
    assert set(reasons) == {bad_id}
    field, value = broken.split(" ", 1)
    assert field in reasons[bad_id] or value.strip("'") in reasons[bad_id]


def test_arrivals_are_the_held_back_tail_of_the_same_world():
    full = list(World(seed=5, calls=30).iter_calls())
    world = World(seed=5, calls=30, held_back=3)
    seeded_calls, arrivals = list(world.iter_calls()), list(world.arrivals())
    assert seeded_calls + arrivals == full
    assert {c.key.removesuffix("-twin") for c in arrivals} == {"k28", "k29", "k30"}
    assert all(c.system == "close" for c in world.iter_calls("close"))
