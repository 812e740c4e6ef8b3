"""End-to-end pulls of the Close connector: edits, deletions, the event log and its gaps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syncer.pull import pull
from tests.connectors.close.harness import make_harness
from tests.connectors.close.helpers import (
    connector_state,
    cursor,
    live,
    post_call,
    stored,
    vendor_call,
    vendor_ids,
)

# --- edits, deletions and the event log ----------------------------------------------------------


def test_an_edit_after_the_first_read_updates_the_store(engine):
    harness = make_harness()
    harness.seed(60)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    call_id = sorted(vendor_ids(harness))[0]
    harness.edit_call(call_id)
    harness.clock.advance(4)
    harness.edit_call(call_id)  # a quick second edit merges into the same event
    harness.settle()
    harness.emulator.stats.reset()
    result = pull(engine, harness.connector(engine))
    assert result.ok
    assert stored(engine)[call_id]["data"]["note"] == "Edited in Close (2)"
    assert result.streams["call_events"].stored == 1
    # The event's data is not trusted: the call itself was read again (one id__in batch).
    assert harness.emulator.stats.by_route["GET /api/v1/activity/call/"] == 2


def test_the_rescan_overlap_does_not_read_handled_events_again(engine):
    harness = make_harness()
    harness.seed(30)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    call_id = sorted(vendor_ids(harness))[0]
    harness.edit_call(call_id)
    harness.clock.advance(60)  # the next poll comes soon: the edit is inside its rescan
    assert pull(engine, harness.connector(engine)).ok
    harness.clock.advance(60)
    harness.emulator.stats.reset()
    assert pull(engine, harness.connector(engine)).ok
    assert harness.emulator.stats.by_route["GET /api/v1/activity/call/"] == 1  # the window


def test_a_deleted_call_is_tombstoned(engine):
    harness = make_harness()
    harness.seed(50)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    gone = sorted(vendor_ids(harness))[:2]
    for call_id in gone:
        harness.emulator.delete_call(call_id)
    harness.settle()
    result = pull(engine, harness.connector(engine))
    assert result.ok and result.streams["call_events"].deleted == 2
    rows = stored(engine)
    assert all(rows[call_id]["deleted_at"] is not None for call_id in gone)
    assert live(engine) == vendor_ids(harness)


@pytest.mark.parametrize("watch", [True, False])
def test_a_call_logged_with_a_past_date_created_is_caught(engine, watch):
    harness = make_harness(settings={"watch_backdated_creates": watch})
    harness.seed(30)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    lead_id, contact_id, phone = harness._lead()
    old = (harness.clock.now() - timedelta(days=3)).isoformat()
    call = post_call(
        harness,
        {
            "lead_id": lead_id,
            "contact_id": contact_id,
            "phone": phone,
            "date_created": old,
            "activity_at": old,
            "direction": "outbound",
            "duration": 30,
        },
    )
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert (call["id"] in stored(engine)) is watch  # without the created pass it is missed


def test_a_gap_longer_than_the_event_log_rescans_and_infers_deletions(engine):
    harness = make_harness()
    harness.seed(120)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    ids = sorted(vendor_ids(harness))
    harness.emulator.delete_call(ids[0])
    harness.edit_call(ids[1])
    harness.clock.advance(31 * 86_400)  # the deletion and the edit left the 30-day log
    result = pull(engine, harness.connector(engine))
    assert result.ok
    rows = stored(engine)
    assert rows[ids[0]]["deleted_at"] is not None
    assert rows[ids[1]]["data"]["note"] == "Edited in Close (1)"
    assert live(engine) == vendor_ids(harness)
    assert (cursor(engine, "call_events").completed or {})["through"].startswith(
        harness.clock.now().date().isoformat()
    )


def test_a_call_still_in_progress_is_watched_until_it_ends(engine):
    harness = make_harness()
    harness.settle()
    call_id = harness.add_call(status="in-progress", duration=None, disposition="answered")
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert set(connector_state(engine, "close.calls")["watch"]) == {call_id}
    # Close's telephony finishes the call; no `updated` event is relied on.
    record = vendor_call(harness, call_id)
    record.update(status="completed", duration=95, date_updated=harness.clock.now().isoformat())
    harness.emulator.calls.put(record)
    harness.clock.advance(300)
    assert pull(engine, harness.connector(engine)).ok
    assert stored(engine)[call_id]["data"]["duration_seconds"] == 95
    assert connector_state(engine, "close.calls")["watch"] == {}


@pytest.mark.parametrize(("rescan", "caught"), [(300, True), (0, False)])
def test_an_event_that_becomes_visible_late_is_caught_by_the_rescan(engine, rescan, caught):
    """Close's events show up seconds after their date_updated; a poll in between misses
    them, so the next poll re-reads the latest minutes (the control without rescan misses)."""
    harness = make_harness(settings={"event_rescan_seconds": rescan})
    harness.seed(30)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    call_id = sorted(vendor_ids(harness))[0]
    harness.edit_call(call_id)
    harness.clock.advance(1)  # the event is not visible yet (2-5 s late)
    assert pull(engine, harness.connector(engine)).ok
    assert stored(engine)[call_id]["data"]["note"] != "Edited in Close (1)"
    harness.clock.advance(120)
    assert pull(engine, harness.connector(engine)).ok
    assert (stored(engine)[call_id]["data"]["note"] == "Edited in Close (1)") is caught
