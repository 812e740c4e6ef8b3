"""A mass-change guard trip in Pipedrive's full sweep (issue 12): the sweep's deletions wait
for a person, but the pull itself ran through: its pages and cursor are stored and count as a
successful pull (the targets it feeds are not deferred), while the exit code still says
something needs attention."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from syncer.config import GuardConfig
from syncer.guard import SweepGuard
from syncer.pull import pull
from syncer.runner import SyncReport
from syncer.store import review
from syncer.store.runs import runs_t
from syncer.views import summary
from tests.connectors.pipedrive.harness import NAME
from tests.connectors.pipedrive.pulls import deleted_ids, seeded


def _guarded_pull(engine: sa.Engine, calls: int = 60, gone: int = 30):
    harness = seeded(engine, calls)
    for victim in sorted(harness.vendor_ids())[:gone]:
        harness.emulator.delete_call_log(victim)  # half the history vanishes at once
    harness.clock.advance(timedelta(days=1).total_seconds())  # the next pull is a full sweep
    connector = harness.connector(engine)
    try:
        return harness, pull(engine, connector, guard=SweepGuard(GuardConfig()))
    finally:
        connector.close()


def test_a_sweep_guard_trip_is_a_successful_pull_waiting_for_a_person(engine):
    _, result = _guarded_pull(engine)
    assert result.error is None, result.error
    assert result.ok and result.ran_through
    assert result.guarded is not None and "mass-change guard" in result.guarded
    assert deleted_ids(engine) == set()  # the deletions wait for a person
    stats = result.streams["calls"]
    assert stats.pages > 0 and stats.complete
    with engine.connect() as conn:
        [trip] = review.open_items(conn, review.GUARD_TRIP)
        assert (trip.connection, trip.other) == (NAME, "sweep")
        assert trip.detail["unseen"] == 30
        [run] = repo_runs(conn)
    assert run.status == "ok"  # the pull ran through (``callsync status``: last pull ok)
    assert "guard trip waiting for a person" in (run.error or "")


def test_a_sweep_guard_trip_defers_no_target_but_the_exit_code_still_says_so(engine):
    _, result = _guarded_pull(engine)
    report = SyncReport(pulls={NAME: result})
    assert report.failed_pulls() == {}  # targets fed by this pull are not deferred
    assert report.guard_trips() == {NAME: result.guarded}
    assert report.failed  # exit 1: something waits for a person
    ended = summary.of_sync("sync", report)
    assert not ended.ok
    [line] = [line for line in ended.lines if line.text.startswith(f"{NAME}:")]
    assert line.problem and "guard trip waiting for a person" in line.text


def repo_runs(conn: sa.Connection) -> list[sa.Row]:
    stmt = sa.select(runs_t).where(runs_t.c.connection == NAME, runs_t.c.kind == "pull")
    return list(conn.execute(stmt.order_by(runs_t.c.id.desc()).limit(1)))
