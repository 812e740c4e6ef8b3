"""End-to-end pulls of the Close connector against its emulator: reading, faults, the cap."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from connectors.base import Cursor
from connectors.close.emulator import CloseEmulator
from connectors.emulation import FaultKind, FaultPlan
from syncer.errors import AuthError, VendorError
from syncer.mapping import MappingOverrides
from syncer.model import Outcome
from syncer.pull import pull
from syncer.store import repo
from tests.connectors.close.harness import NAME, make_harness
from tests.connectors.close.helpers import (
    connector_state,
    cursor,
    pull_until_ok,
    stored,
    vendor_call,
    vendor_ids,
)

# --- reading everything ----------------------------------------------------------------------


def test_a_first_pull_reads_every_call_and_maps_both_sources(engine):
    harness = make_harness()
    harness.seed(250)
    harness.settle()
    result = pull(engine, harness.connector(engine))
    assert result.ok, result.error
    rows = stored(engine)
    assert set(rows) == vendor_ids(harness)
    raws = {call_id: vendor_call(harness, call_id) for call_id in rows}
    made = [k for k, raw in raws.items() if raw and raw["source"] == "Close.io"]
    logged = [k for k, raw in raws.items() if raw and raw["source"] == "External"]
    assert made and logged
    answered = next(k for k in made if raws[k]["disposition"] == "answered")
    assert rows[answered]["data"]["outcome"] in {"connected", "message_left", "wrong_number"}
    for key in logged:  # API-logged calls: no disposition, dialer mode unknown
        assert rows[key]["data"]["outcome"] == "unknown"
        assert rows[key]["data"]["call_method"] is None


def test_pagination_respects_the_page_size_and_overlaps_by_one(engine):
    harness = make_harness()
    harness.seed(320)
    harness.settle()
    connector = harness.connector(engine)
    pages = [page for page in connector.read("calls", Cursor()) if page.records]
    assert [len(page.records) for page in pages] == [100, 99, 99, harness.seeded - 298]
    ids = [record["id"] for page in pages for record in page.records]
    assert len(ids) == len(set(ids)) == harness.seeded


# --- faults ---------------------------------------------------------------------------------


def test_a_429_storm_and_5xx_lose_nothing(engine):
    faults = FaultPlan(seed=11, rate_limit=0.3, server_error=0.15)
    harness = make_harness(faults=faults, settings={"page_size": 20})
    harness.seed(160)
    harness.settle()
    pull_until_ok(harness, engine)
    assert set(stored(engine)) == vendor_ids(harness)
    statuses = harness.emulator.stats.statuses
    assert statuses[429] > 0 and sum(statuses[s] for s in (500, 502, 503, 504)) > 0


def test_truncated_bodies_are_asked_for_again(engine):
    harness = make_harness(faults=FaultPlan(seed=5, malformed=0.25), settings={"page_size": 20})
    harness.seed(120)
    harness.settle()
    pull_until_ok(harness, engine)
    assert set(stored(engine)) == vendor_ids(harness)


@pytest.mark.parametrize(
    ("pace", "hints", "expect_429"),
    [(4.0, True, False), (40.0, True, False), (40.0, False, True)],
    ids=["paced-at-the-limit", "too-fast-but-reading-ratelimit", "control-too-fast-and-blind"],
)
def test_pacing_stays_under_the_rate_limit(engine, monkeypatch, pace, hints, expect_429):
    """Paced at the account's limit, or reading Close's `ratelimit` header, callsync never
    makes Close say 429; the control (too fast and ignoring the header) does, and even then
    the 429s are honoured without losing anything."""
    if not hints:
        monkeypatch.setattr("connectors.close.client.close_hint", lambda headers: None)
    limits = {"calls_read": 4, "events": 4, "config": 4}
    harness = make_harness(
        settings={"rate_limit_per_second": pace, "page_size": 20},
        emulator={"rate_limits": limits},
    )
    harness.seed(200)
    harness.settle()
    before = harness.clock.now()
    pull_until_ok(harness, engine)
    assert set(stored(engine)) == vendor_ids(harness)
    assert (harness.emulator.stats.statuses[429] > 0) is expect_429
    if not expect_429:  # then every call-list request was admitted, 4 per simulated second
        lists = harness.emulator.stats.by_route["GET /api/v1/activity/call/"]
        assert harness.clock.now() - before >= timedelta(seconds=lists / 4 - 1)


def test_a_malformed_record_is_quarantined_and_the_rest_stored(engine):
    harness = make_harness()
    harness.seed(40)
    good = next(iter(vendor_ids(harness)))
    for suffix, change in (("A", {"disposition": "teleported"}), ("B", {"duration": "long"})):
        bad = {**vendor_call(harness, good), "id": f"acti_broken{suffix}", **change}
        harness.emulator.calls.put(bad)
    harness.settle()
    result = pull(engine, harness.connector(engine))
    assert result.ok
    assert result.streams["calls"].quarantined == 2
    assert set(stored(engine)) == vendor_ids(harness) - {"acti_brokenA", "acti_brokenB"}
    with engine.connect() as conn:
        reasons = {row.record_key: row.reason for row in repo.open_quarantine(conn, NAME)}
    assert "teleported" in reasons["acti_brokenA"]
    assert "duration" in reasons["acti_brokenB"]
    assert cursor(engine, "calls").partial is None


def test_a_crash_mid_pull_resumes_where_it_stopped(engine):
    harness = make_harness(settings={"page_size": 20})
    harness.seed(90)
    harness.settle()
    # The 4th call-list request fails on every retry: the run dies after 2 stored pages.
    harness.emulator.faults.script(
        FaultKind.SERVER_ERROR, method="GET", path=r"/activity/call/$", skip=3, times=6, status=503
    )
    with pytest.raises(VendorError):
        pull(engine, harness.connector(engine))
    assert cursor(engine, "calls").partial is not None
    assert 0 < len(stored(engine)) < harness.seeded
    harness.emulator.stats.reset()
    assert pull(engine, harness.connector(engine)).ok
    assert set(stored(engine)) == vendor_ids(harness)
    # Resumed at the failed page: 3 more pages (not 5 from the start), no new cap probe.
    assert harness.emulator.stats.by_route["GET /api/v1/activity/call/"] == 3


# --- the _skip cap ---------------------------------------------------------------------------


def test_windows_split_before_passing_the_skip_cap(engine):
    harness = make_harness(settings={"max_skip": 40, "page_size": 20}, emulator={"max_skip": 40})
    harness.seed(150)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert set(stored(engine)) == vendor_ids(harness)
    assert harness.emulator.stats.statuses[400] == 0


def test_the_real_skip_cap_is_learned_from_the_400(engine):
    harness = make_harness(settings={"page_size": 20}, emulator={"max_skip": 40})
    harness.seed(150)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert set(stored(engine)) == vendor_ids(harness)
    assert harness.emulator.stats.statuses[400] >= 1
    assert connector_state(engine, "close.calls")["max_skip"] == 40
    harness.seed(150)  # the next pull starts from the learned cap: no 400 any more
    harness.settle()
    harness.emulator.stats.reset()
    assert pull(engine, harness.connector(engine)).ok
    assert harness.emulator.stats.statuses[400] == 0
    assert set(stored(engine)) >= vendor_ids(harness)


def test_deletions_during_a_walk_do_not_skip_calls(engine):
    harness = make_harness(settings={"page_size": 20})
    harness.seed(100)
    harness.settle()
    pages = harness.connector(engine).read("calls", Cursor())
    first = next(pages)
    read = {record["id"] for record in first.records}
    for call_id in list(read)[:7]:  # calls already passed vanish: later offsets shift by 7
        harness.emulator.delete_call(call_id)
    read |= {record["id"] for page in pages for record in page.records}
    assert vendor_ids(harness) <= read


# --- vendor specifics of the mapping ---------------------------------------------------------------


def test_transcripts_are_read_through_fields(engine):
    harness = make_harness(settings={"include_transcripts": True})
    harness.seed(150)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    rows = stored(engine)
    recorded = [k for k in rows if vendor_call(harness, k).get("recording_transcript")]
    assert recorded
    for key in recorded:
        assert ": Hi " in rows[key]["data"]["transcript"]
        assert rows[key]["data"]["recording_url"].startswith("https://")
    assert set(rows) == vendor_ids(harness)


def test_outcome_labels_and_dangling_outcomes(engine):
    harness = make_harness()
    overrides = MappingOverrides(outcome_by_disposition={"Wrong number": Outcome.WRONG_NUMBER})
    harness.table = harness.table.with_overrides(overrides)
    harness.seed(300)
    harness.emulator.delete_outcome(CloseEmulator.outcome_id("Interested"))
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    by_outcome: dict[str | None, list[dict[str, Any]]] = {}
    for key, row in stored(engine).items():
        outcome_id = vendor_call(harness, key).get("outcome_id")
        by_outcome.setdefault(outcome_id, []).append(row["data"])
    wrong = by_outcome[CloseEmulator.outcome_id("Wrong number")]
    assert {call["outcome"] for call in wrong} == {"wrong_number"}
    assert wrong[0]["disposition"]["label"] == "Wrong number"
    dangling = by_outcome[CloseEmulator.outcome_id("Interested")]
    assert {json.dumps(call["disposition"]) for call in dangling} == {
        json.dumps({"id": CloseEmulator.outcome_id("Interested"), "label": None})
    }


def test_a_rejected_key_is_an_auth_error(engine):
    harness = make_harness(settings={"api_key": "api_not_a_real_key_0000000000"})
    with pytest.raises(AuthError):
        harness.connector(engine).check()
    make_harness().connector(engine).check()  # the demo key passes the same probe
