"""Quarantine replay (issue 12): stored payloads of quarantined records are mapped again with
the current mapping inputs, by ``retry`` and by the next pull, without a vendor request; what
maps is stored as a pull stores it and routed by the next push."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from syncer import quarantine
from syncer.config import RouteConfig
from syncer.mapping import DimensionOverride, MappingOverrides, load_tables
from syncer.pull import pull
from syncer.push_route import push_route
from syncer.store import ledger
from syncer.store.quarantined import Filters
from tests.connectors.amplemarket.harness import AmplemarketHarness
from tests.connectors.close.harness import NAME
from tests.engine.quarantine_world import (
    BROKEN,
    TELEPORTED,
    TELEPORTED_REP,
    UNKNOWN,
    mappings_knowing,
    open_rows,
    quarantined_world,
    stored_call,
)
from tests.engine.test_exactly_once import Target, context, row

LIST_CALLS = "GET /api/v1/activity/call/"
UNMAPPED = f"close outcome: vendor value {UNKNOWN!r} is not in the mapping"


def learn_teleported(harness, tmp_path) -> None:
    """The Close table now reads the unknown disposition (a newer mappings/close.yaml)."""
    directory = mappings_knowing(tmp_path / "mappings", "close", "outcome", UNKNOWN, "connected")
    harness.table = load_tables(directory)["close"]


def override_teleported(harness, tmp_path) -> None:
    """The connection's ``mapping:`` override adds the disposition the shipped file lacks."""
    read = DimensionOverride(read={UNKNOWN: "connected"})
    harness.table = load_tables()["close"].with_overrides(MappingOverrides(outcome=read))


def test_retry_maps_what_the_mapping_now_knows_without_a_request_and_push_routes_it(
    engine, tmp_path
):
    harness = quarantined_world(engine, with_rep=True)
    broken_reason = open_rows(engine)[BROKEN].reason
    learn_teleported(harness, tmp_path)
    harness.emulator.stats.reset()

    result = quarantine.retry(engine, harness.connector(engine))

    assert harness.emulator.stats.total == 0  # not one request, look-ups included
    assert (result.retried, result.mapped) == (3, 2)
    assert result.still == {broken_reason: 1}
    broken = open_rows(engine)[BROKEN]
    assert set(open_rows(engine)) == {BROKEN}
    assert (broken.reason, broken.attempts) == (broken_reason, 2)
    assert stored_call(engine, TELEPORTED).data["outcome"] == "connected"
    assert stored_call(engine, TELEPORTED).incomplete is None
    # The rep's e-mail needs GET /user/, which a replay does not send: stored incomplete, as a
    # pull whose look-up failed stores it, and labelled by the next pull.
    assert "GET /user/" in stored_call(engine, TELEPORTED_REP).incomplete
    assert pull(engine, harness.connector(engine)).ok
    assert stored_call(engine, TELEPORTED_REP).incomplete is None

    call = stored_call(engine, TELEPORTED)
    target = Target(context(engine, "dst"))
    target.people = {call.data["to_number"]["e164"]}
    push_route(engine, RouteConfig(source=NAME, targets=["dst"]), {"dst": target})
    link = row(engine, SimpleNamespace(call_uid=call.call_uid))
    assert link.state == ledger.DONE
    assert [r for r in target.records.values() if r["id"] == link.remote_id]


@pytest.mark.parametrize("learn", [learn_teleported, override_teleported])
def test_the_next_pull_retries_once_per_mapping_change_without_extra_requests(
    engine, tmp_path, monkeypatch, learn
):
    harness = quarantined_world(engine)
    sent_by_replay: list[int] = []
    replay = quarantine.retry_changed

    def counted(*args, **kwargs):
        result = replay(*args, **kwargs)
        sent_by_replay.append(harness.emulator.stats.total)  # the pull reads after the replay
        return result

    monkeypatch.setattr(quarantine, "retry_changed", counted)
    harness.emulator.stats.reset()
    unchanged = pull(engine, harness.connector(engine))
    assert unchanged.remapped == 0
    assert {key: r.attempts for key, r in open_rows(engine).items()} == {TELEPORTED: 1, BROKEN: 1}

    learn(harness, tmp_path)
    harness.emulator.stats.reset()
    changed = pull(engine, harness.connector(engine))

    assert changed.ok and changed.remapped == 1
    assert sent_by_replay == [0, 0]
    # The pull's own reads only: no look-up was spent on the replayed record.
    assert set(harness.emulator.stats.by_route) <= {"GET /api/v1/event/", LIST_CALLS}
    assert stored_call(engine, TELEPORTED).data["outcome"] == "connected"
    assert {key: r.attempts for key, r in open_rows(engine).items()} == {BROKEN: 2}
    # The change was replayed once: the next pull leaves the still-broken record alone.
    assert pull(engine, harness.connector(engine)).remapped == 0
    assert open_rows(engine)[BROKEN].attempts == 2


def test_retry_takes_only_the_records_the_reason_names(engine, tmp_path):
    harness = quarantined_world(engine)
    learn_teleported(harness, tmp_path)
    result = quarantine.retry(engine, harness.connector(engine), reason="DURATION")
    assert (result.retried, result.mapped) == (1, 0)
    rows = open_rows(engine)
    assert (rows[TELEPORTED].attempts, rows[BROKEN].attempts) == (1, 2)
    assert rows[TELEPORTED].reason == UNMAPPED
    assert quarantine.open_records(engine, Filters(connection="elsewhere")) == []
    found = quarantine.open_records(engine, Filters(connection=NAME, reason="teleported"))
    assert [record.record_key for record in found] == [TELEPORTED]


def test_a_record_that_needs_a_look_up_to_map_stays_quarantined_and_says_which(engine, tmp_path):
    harness = AmplemarketHarness()
    odd_id = "0199ba5b-e20c-7dc1-9481-0000000000aa"
    harness.emulator.store.dispositions.put(
        odd_id, {"id": odd_id, "name": "Odd", "slug": "odd", "action": "teleport"}
    )
    odd = harness.add_call(disposition_id=odd_id)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    with engine.connect() as conn:
        [before] = quarantine.quarantined.open_records(conn, Filters())
    assert before.record_key == odd and "teleport" in before.reason
    directory = mappings_knowing(
        tmp_path / "m", "amplemarket", "sequence_action", "teleport", "finish"
    )
    harness.table = load_tables(directory)["amplemarket"]
    harness.emulator.stats.reset()

    for attempt in (2, 3):
        result = quarantine.retry(engine, harness.connector(engine))
        [after] = quarantine.open_records(engine, Filters())
        assert harness.emulator.stats.total == 0
        assert (result.mapped, after.attempts) == (0, attempt)
        # The reason it was quarantined for stays; the request it needs is named, once.
        assert after.reason.startswith(quarantine.UNEVALUATED + "GET /")
        assert after.reason.count(quarantine.UNEVALUATED) == 1
        assert after.reason.endswith(before.reason)
