"""End-to-end pulls from the Pipedrive emulator into the store, on both database backends.

Each test drives the real engine (``syncer.pull.pull``) and checks the store against the
emulated company: what was stored, what was tombstoned, what was quarantined, and how many
requests it took. Budget and Pipedrive-specific behaviour: ``test_pipedrive_specifics``.
"""

from __future__ import annotations

import math
from datetime import timedelta

from connectors.emulation import FaultPlan
from syncer.store import repo
from tests.connectors.pipedrive.harness import IDLE_POLL_COST, NAME, full_pull_cost, make_harness
from tests.connectors.pipedrive.pulls import (
    ACTIVITIES,
    LIST,
    ONE_LOG,
    Crash,
    after_requests,
    crash,
    deleted_ids,
    pulled,
    repo_ids,
    requests,
    seeded,
    set_log_field,
)

# --- first pull and incremental pulls -----------------------------------------------------------


def test_first_pull_stores_every_call_at_the_documented_cost(engine):
    harness = make_harness()
    harness.seed(300)
    harness.settle()
    result = pulled(harness, engine)

    assert result.ok, result.error
    vendor = harness.vendor_ids()
    assert harness.stored_ids(engine) == vendor
    assert harness.emulator.stats.total == full_pull_cost(len(vendor)), requests(harness)
    for external_id in sorted(vendor)[:40]:
        call = harness.stored_call(engine, external_id)
        assert call is not None
        subject = harness.stored_raw(engine, external_id)["activity"]["subject"]
        # The seeded subjects say the direction; the connector infers it from the numbers.
        assert call.direction is not None
        assert subject.startswith("Outbound") == (call.direction.value == "outbound")
        assert call.source.source_updated_at is not None
    edited = [
        i
        for i in vendor
        if "Follow-up booked" in (harness.emulator.call_log(i) or {}).get("note", "")
    ]
    assert edited
    assert "Follow-up booked" in (harness.stored_call(engine, edited[0]).note or "")


def test_an_idle_poll_costs_one_request(engine):
    harness = seeded(engine, 200)
    assert pulled(harness, engine).ok
    assert requests(harness) == {ACTIVITIES: IDLE_POLL_COST}


def test_new_calls_are_found_at_the_end_of_the_list(engine):
    harness = seeded(engine, 200)
    new = {harness.add_call() for _ in range(3)}
    harness.settle()

    result = pulled(harness, engine)

    assert result.ok and result.streams["calls"].stored == 3
    assert new <= harness.stored_ids(engine)
    assert requests(harness) == {ACTIVITIES: 1, LIST: 1}


def test_many_new_calls_span_several_activity_pages(engine):
    harness = seeded(engine, 60)
    harness.seed(1200)  # logged one by one from now on
    harness.settle()

    result = pulled(harness, engine)

    assert result.ok, result.error
    assert harness.stored_ids(engine) == harness.vendor_ids()
    assert requests(harness)[ACTIVITIES] == 3  # 1200 changed activities, 500 per page
    assert requests(harness)[LIST] <= math.ceil(1200 / 50) + 3  # read about once


def test_an_activity_edited_after_logging_updates_the_stored_call(engine):
    harness = seeded(engine, 50)
    external_id = harness.add_call()
    harness.settle()
    assert pulled(harness, engine).ok
    before = harness.stored_call(engine, external_id)
    harness.clock.advance(600)
    harness.edit_call(external_id, note="<p>Rescheduled to <b>Friday</b></p>", subject="Renamed")
    harness.settle()

    result = pulled(harness, engine)

    assert result.ok and result.streams["calls"].stored == 1
    after = harness.stored_call(engine, external_id)
    assert after.note == "Rescheduled to Friday"
    assert harness.stored_raw(engine, external_id)["activity"]["subject"] == "Renamed"
    assert before.source.source_updated_at is not None
    assert after.source.source_updated_at is not None
    assert after.source.source_updated_at > before.source.source_updated_at
    assert requests(harness) == {ACTIVITIES: 1, ONE_LOG: 1}  # the log is refetched (2 tokens)


# --- deletions ------------------------------------------------------------------------------


def test_a_soft_deleted_activity_tombstones_its_call(engine):
    harness = seeded(engine, 80)
    victim = sorted(harness.vendor_ids())[5]
    harness.emulator.delete_activity(harness.activity_of(victim))
    harness.settle()

    result = pulled(harness, engine)

    assert result.ok and result.streams["calls"].deleted == 1
    assert victim not in harness.stored_ids(engine)
    assert deleted_ids(engine) == {victim}
    assert requests(harness) == {ACTIVITIES: 1}


def test_a_deleted_call_log_is_found_by_the_next_sweep(engine):
    harness = seeded(engine, 120)
    victim = sorted(harness.vendor_ids())[7]
    harness.emulator.delete_call_log(victim)  # no event, the activity stays (§2.3)
    assert pulled(harness, engine).ok
    assert victim in harness.stored_ids(engine)  # nothing announces it

    harness.clock.advance(timedelta(days=1).total_seconds())
    result = pulled(harness, engine)

    assert result.ok and result.streams["calls"].deleted == 1
    assert deleted_ids(engine) == {victim}
    assert harness.stored_ids(engine) == harness.vendor_ids()


def test_a_deleted_call_log_is_found_when_its_activity_changes(engine):
    harness = seeded(engine, 60)
    victim = sorted(harness.vendor_ids())[3]
    activity = harness.activity_of(victim)
    harness.emulator.delete_call_log(victim)
    harness.emulator.edit_activity(activity, note="<p>after the log was deleted</p>")
    harness.settle()

    result = pulled(harness, engine)

    assert result.ok
    assert deleted_ids(engine) == {victim}  # the refetch answered 404


def test_a_deletion_during_a_sweep_never_tombstones_a_live_call(engine):
    harness = seeded(engine, 300)
    victim = sorted(harness.vendor_ids())[0]
    first_entry = harness.emulator.store.call_log_page(harness.user_id, 0, 1)[0][0]["id"]
    harness.clock.advance(timedelta(days=1).total_seconds())
    harness.wrap = after_requests(LIST, 2, lambda: harness.emulator.delete_call_log(first_entry))

    result = pulled(harness, engine)  # the list shifts left under the sweep's offset

    assert result.ok, result.error
    assert deleted_ids(engine) == set()  # the sweep saw the shift: it infers nothing
    harness.wrap = None
    assert pulled(harness, engine).ok  # so the next pull sweeps again, cleanly
    assert deleted_ids(engine) == {first_entry}
    assert harness.stored_ids(engine) == harness.vendor_ids()
    assert victim in repo_ids(engine, deleted=False)


# --- faults -------------------------------------------------------------------------------------


def test_a_429_storm_and_5xx_lose_nothing(engine):
    faults = FaultPlan(seed=11, rate_limit=0.25, server_error=0.1)
    harness = make_harness(faults=faults)
    harness.seed(400)
    harness.settle()
    harness.emulator.stats.reset()

    # 429, 502-504 are retried within a pull; a 500 (or a 429 outlasting every retry) ends
    # it cleanly (the shared retry policy), and the next pull resumes from the last page.
    results = [pulled(harness, engine, reset=False)]
    while not results[-1].ok and len(results) < 30:
        assert any(s in (results[-1].error or "") for s in ("500", "wait")), results[-1].error
        results.append(pulled(harness, engine, reset=False))

    assert results[-1].ok, [r.error for r in results]
    assert harness.stored_ids(engine) == harness.vendor_ids()
    statuses = harness.emulator.stats.statuses
    assert statuses[429] > 0 and statuses[503] > 0 and statuses[500] > 0
    assert statuses[403] == 0  # Retry-After was honoured: never blocked for hammering
    answered = statuses[200]
    assert answered <= full_pull_cost(len(harness.vendor_ids())) + 3 * len(results)


def test_pacing_stays_under_the_burst_limit(engine):
    harness = make_harness()
    harness.seed(800)  # about 30 requests back to back, past the 20 per 2 s window
    harness.settle()
    assert pulled(harness, engine).ok
    assert harness.emulator.stats.total > 20
    assert harness.emulator.stats.statuses[429] == 0  # paced, never bounced


def test_unreadable_answers_are_asked_again(engine):
    harness = make_harness(faults=FaultPlan(seed=5, malformed=0.2))
    harness.seed(200)
    harness.settle()
    result = pulled(harness, engine)
    assert result.ok, result.error
    assert harness.stored_ids(engine) == harness.vendor_ids()


def test_an_unmappable_call_log_is_quarantined_and_retried_once_fixed(engine):
    harness = make_harness()
    harness.seed(100)
    odd = harness.add_call()
    set_log_field(harness, odd, outcome="voicemail_dropped")  # a value §2.5 does not list
    harness.settle()

    result = pulled(harness, engine)

    assert result.ok and result.streams["calls"].quarantined == 1
    assert harness.stored_ids(engine) == harness.vendor_ids() - {odd}
    with engine.connect() as conn:
        [held] = repo.open_quarantine(conn, NAME)
    assert held.record_key == odd and "voicemail_dropped" in held.reason
    set_log_field(harness, odd, outcome="left_voicemail")
    harness.edit_call(odd, note="<p>fixed</p>")
    harness.settle()
    assert pulled(harness, engine).ok
    assert odd in harness.stored_ids(engine)
    with engine.connect() as conn:
        assert repo.open_quarantine(conn, NAME) == []


def test_a_crash_mid_pull_resumes_where_it_stopped(engine):
    harness = make_harness()
    harness.seed(600)
    harness.settle()
    harness.wrap = after_requests(LIST, 7, crash)

    try:
        pulled(harness, engine)
    except Crash:
        pass
    else:
        raise AssertionError("the pull should have crashed")
    crashed = harness.emulator.stats.total
    assert 0 < len(harness.stored_ids(engine)) < len(harness.vendor_ids())
    harness.wrap = None
    result = pulled(harness, engine)

    assert result.ok, result.error
    assert harness.stored_ids(engine) == harness.vendor_ids()
    # Resumed at the last stored page: at most one step (2 list pages + 1 join) read twice.
    assert crashed + harness.emulator.stats.total <= full_pull_cost(600) + 3
