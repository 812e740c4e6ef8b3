"""End-to-end Pipedrive specifics: the daily token budget, whose calls are searched for,
hand-logged call activities, late recordings, and resuming a changes pass."""

from __future__ import annotations

from datetime import timedelta

from connectors.base import Cursor
from syncer.store import repo
from tests.connectors.pipedrive.harness import NAME, make_harness
from tests.connectors.pipedrive.pulls import (
    ACTIVITIES,
    LIST,
    pulled,
    repo_ids,
    requests,
    seeded,
)

# --- the daily budget ---------------------------------------------------------------------------


def test_the_budget_share_ends_the_run_cleanly_and_resumes_next_day(engine):
    harness = make_harness(tunables={"daily_budget": 600}, settings={"daily_budget_share": 0.5})
    harness.seed(600)  # a first pull needs about 350 tokens
    harness.settle()

    result = pulled(harness, engine)

    assert not result.ok and "budget" in (result.error or "")
    assert harness.emulator.daily_tokens_remaining() >= 300  # never past the share
    stored = harness.stored_ids(engine)
    assert 0 < len(stored) < len(harness.vendor_ids())
    assert not pulled(harness, engine).ok
    assert harness.emulator.stats.total == 0  # the same day: not one more request

    harness.clock.advance(timedelta(days=1).total_seconds())
    result = pulled(harness, engine)
    assert result.ok, result.error
    assert harness.stored_ids(engine) == harness.vendor_ids()


def test_a_spent_company_budget_fails_fast(engine):
    harness = make_harness()
    harness.seed(50)
    harness.settle()
    harness.emulator.spend_daily_tokens(10**9)  # another integration ate it (§2.11k)

    result = pulled(harness, engine)

    assert not result.ok and "budget" in (result.error or "")
    assert harness.emulator.stats.total == 1  # the 429 is not retried
    assert harness.emulator.stats.statuses[429] == 1


# --- Pipedrive specifics ------------------------------------------------------------------------


def test_a_hand_logged_call_activity_is_searched_once_then_converted(engine):
    harness = seeded(engine, 120)
    with harness.api() as api:
        created = api.post("/api/v2/activities", json={"type": "call", "done": True})
    activity_id = created.json()["data"]["id"]
    harness.settle()

    assert pulled(harness, engine).ok
    assert requests(harness)[LIST] == 2  # the tail and the head of the list: no log
    assert pulled(harness, engine).ok
    assert requests(harness) == {ACTIVITIES: 1}  # that version is not searched again

    with harness.api() as api:
        body = {
            "activity_id": activity_id, "outcome": "busy", "to_phone_number": "+14155550100",
            "start_time": "2026-01-05 09:00:00", "end_time": "2026-01-05 09:00:07",
        }  # fmt: skip
        log_id = api.post("/api/v1/callLogs", json=body).json()["data"]["id"]
    harness.settle()
    assert pulled(harness, engine).ok
    assert log_id in harness.stored_ids(engine)


def test_a_recording_added_later_is_seen_by_the_sweep(engine):
    harness = seeded(engine, 40)
    external_id = harness.add_call()
    harness.settle()
    assert pulled(harness, engine).ok
    with harness.api() as api:
        files = {"file": ("call.mp3", b"ID3fake", "audio/mpeg")}
        assert api.post(f"/api/v1/callLogs/{external_id}/recordings", files=files).is_success
    assert pulled(harness, engine).ok
    assert harness.stored_raw(engine, external_id)["call_log"]["has_recording"] is False

    harness.clock.advance(timedelta(days=1).total_seconds())
    assert pulled(harness, engine).ok
    assert harness.stored_raw(engine, external_id)["call_log"]["has_recording"] is True


def test_the_changes_pass_resumes_from_every_checkpoint(engine):
    harness = seeded(engine, 60)
    harness.seed(1100)
    harness.settle()
    with engine.connect() as conn:
        completed = repo.get_cursor(conn, NAME, "calls").completed
    pages = list(harness.connector(engine).read("calls", Cursor(completed)))
    everything = {r["call_log"]["id"] for page in pages for r in page.records}
    assert everything == harness.vendor_ids() - repo_ids(engine, deleted=False)
    for index, page in enumerate(pages):
        if page.checkpoint.partial is None:
            continue
        before = {r["call_log"]["id"] for p in pages[: index + 1] for r in p.records}
        resumed = harness.connector(engine).read(
            "calls", Cursor(completed, page.checkpoint.partial)
        )
        after = {r["call_log"]["id"] for p in resumed for r in p.records}
        assert not everything - before - after, f"resuming after page {index} misses calls"


def test_a_far_future_cursor_sends_no_list_request(engine):
    harness = make_harness()
    harness.seed(80)
    harness.settle()
    pages = list(harness.connector(engine).read("calls", harness.far_future_cursor("calls")))
    assert [r for p in pages for r in p.records] == []
    assert LIST not in requests(harness)
