"""How a dry run prints what a route's deletions mode would do and the guard's verdict."""

from __future__ import annotations

import json

from rich.console import Console

from syncer import plan_report
from syncer.model import Call, SourceIdentity
from syncer.plan import SAMPLES, SyncPlan
from syncer.views import output
from syncer.views.summary import RunSummary
from tests.unit.test_planner import call

TRIP = {
    "why": "mass-change guard: this run would rewrite 0 and delete or mark 5 of the 20 calls",
    "updates": 0,
    "deletions": 5,
    "written": 20,
    "max_share": 0.1,
    "max_count": None,
    "min_count": 1,
}


def _text(plan: SyncPlan) -> str:
    console = Console(width=400, record=True)
    console.print(plan_report.as_table(plan))
    return console.export_text()


def _gone(n: int) -> list[Call]:
    return [
        call(source=SourceIdentity(system="close", connection="a", external_id=f"c{i}"))
        for i in range(n)
    ]


def test_every_deletion_is_kept_and_the_table_shows_a_few_and_the_guard():
    plan = SyncPlan()
    tally = plan.target("a -> b", "b")
    gone = _gone(SAMPLES + 2)
    for one in gone:
        tally.note("delete", one, f"would delete r-{one.source.external_id} in the target")
    tally.guard = TRIP
    assert [uid for uid, _ in tally.samples["delete"]] == [one.call_uid for one in gone]
    text = _text(plan)
    assert "would delete r-c0" in text and "r-c4" not in text
    assert "... and 2 more" in text
    assert "would trip: mass-change guard" in text

    summary = RunSummary("sync", plan=plan)
    [planned] = json.loads(json.dumps(output.as_json(summary)))["plan"]
    assert planned["guard"] == TRIP and planned["forced"] is False
    assert len(planned["examples"]["delete"]) == SAMPLES + 2


def test_a_forced_run_says_the_guard_is_not_asked():
    plan = SyncPlan()
    plan.target("a -> b", "b").forced = True
    text = _text(plan)
    assert "--force: the mass-change guard is not asked" in text


def test_a_trip_with_nothing_else_planned_is_still_shown():
    plan = SyncPlan()
    plan.target("a -> b", "b").guard = TRIP
    text = _text(plan)
    assert "would trip" in text and "nothing to do" not in text
