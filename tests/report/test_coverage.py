"""``callsync report``: per route and target, each missing call counted under the reason it
waits for, with its id as an example; complete, written and linked calls; the range."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syncer.model import Direction, Outcome
from syncer.report import build_report
from syncer.report.model import REASONS
from syncer.store import ledger
from tests.report.store import T0, example_config, make_call, quarantined, settled, store, written

AMPLE_ROUTE, CLOSE_ROUTE = "ample -> close, pipedrive", "close -> outreach"


def _parked(engine):
    call = make_call(1)
    store(engine, call)
    settled(engine, call, "close", ledger.PARKED, "no Close person with +14155550100")
    return call.call_uid


def _in_doubt(engine):
    call = make_call(1)
    store(engine, call)
    settled(engine, call, "close", ledger.IN_DOUBT)
    return call.call_uid


def _needs_review(engine):
    call = make_call(1)
    store(engine, call)
    settled(engine, call, "close", ledger.NEEDS_REVIEW, "3 records look alike")
    return call.call_uid


def _failed(engine):
    call = make_call(1)
    store(engine, call)
    settled(engine, call, "close", ledger.FAILED, "close answered 422")
    return call.call_uid


def _stale(engine):
    call = make_call(1)
    store(engine, call)
    written(engine, call, "close", "acti_1")
    settled(engine, call, "close", ledger.STALE, "cannot update in target: duration")
    return call.call_uid


def _skipped(engine):
    call = make_call(1)
    store(engine, call)
    settled(engine, call, "close", ledger.SKIPPED, "a person said so")
    return call.call_uid


def _quarantined(engine):
    quarantined(engine, "ample", "ample-rec-9")
    return "ample-rec-9"


def _not_attempted(engine):
    call = make_call(1)
    store(engine, call)
    return call.call_uid


def _filtered(engine):
    call = make_call(1, source="close", direction=Direction.INBOUND)
    store(engine, call)
    return call.call_uid


def _filtered_though_parked(engine):
    """The push skips a call its route's filters leave out, whatever its ledger row says."""
    call = make_call(1, source="close", outcome=Outcome.NO_ANSWER)
    store(engine, call)
    settled(engine, call, "outreach", ledger.PARKED)
    return call.call_uid


def _parked_through_filters(engine):
    call = make_call(1, source="close")
    store(engine, call)
    settled(engine, call, "outreach", ledger.PARKED)
    return call.call_uid


def _not_attempted_through_filters(engine):
    call = make_call(1, source="close")
    store(engine, call)
    return call.call_uid


MISSING = [
    pytest.param(_parked, AMPLE_ROUTE, "close", "parked", id="parked"),
    pytest.param(_in_doubt, AMPLE_ROUTE, "close", "in_doubt", id="in-doubt"),
    pytest.param(_needs_review, AMPLE_ROUTE, "close", "in_doubt", id="needs-review"),
    pytest.param(_failed, AMPLE_ROUTE, "close", "failed", id="failed"),
    pytest.param(_stale, AMPLE_ROUTE, "close", "stale", id="stale"),
    pytest.param(_skipped, AMPLE_ROUTE, "close", "skipped", id="skipped"),
    pytest.param(_quarantined, AMPLE_ROUTE, "pipedrive", "quarantined", id="quarantined"),
    pytest.param(_not_attempted, AMPLE_ROUTE, "pipedrive", "not_attempted", id="not-attempted"),
    pytest.param(_filtered, CLOSE_ROUTE, "outreach", "filtered", id="filtered"),
    pytest.param(
        _filtered_though_parked, CLOSE_ROUTE, "outreach", "filtered", id="filtered-with-a-row"
    ),
    pytest.param(
        _parked_through_filters, CLOSE_ROUTE, "outreach", "parked", id="parked-on-a-filtered-route"
    ),
    pytest.param(
        _not_attempted_through_filters,
        CLOSE_ROUTE,
        "outreach",
        "not_attempted",
        id="not-attempted-on-a-filtered-route",
    ),
]


def _target(report, route: str, target: str):
    [found] = [r for r in report.routes if r.route == route]
    [coverage] = [t for t in found.targets if t.target == target]
    return found, coverage


@pytest.mark.parametrize(("setup", "route", "target", "reason"), MISSING)
def test_a_missing_call_is_counted_under_its_reason_with_its_id(
    engine, setup, route, target, reason
):
    example = setup(engine)
    report = build_report(engine, example_config())
    found, coverage = _target(report, route, target)
    by_reason = {m.reason: (m.count, m.examples) for m in coverage.missing}
    assert by_reason[reason] == (1, (example,))
    assert [m.reason for m in coverage.missing] == list(REASONS)
    assert sum(m.count for m in coverage.missing) == 1, by_reason
    assert (coverage.complete, found.complete) == (0, 0)


def test_a_linked_twin_and_a_written_call_are_complete_and_told_apart(engine):
    twin, copy, half = make_call(1), make_call(2), make_call(3)
    store(engine, twin, copy, half)
    for target in ("close", "pipedrive"):
        written(engine, twin, target, f"{target}-logged-by-hand", kind=ledger.MATCHED)
        written(engine, copy, target, f"{target}-copy")
    written(engine, half, "close", "close-half")
    report = build_report(engine, example_config())
    found, close = _target(report, AMPLE_ROUTE, "close")
    _, pipedrive = _target(report, AMPLE_ROUTE, "pipedrive")
    assert (close.written, close.linked, close.complete) == (2, 1, 3)
    assert (pipedrive.written, pipedrive.linked, pipedrive.complete) == (1, 1, 2)
    assert pipedrive.missing_count("not_attempted") == 1
    assert (found.source_calls, found.complete) == (3, 2)


def test_a_record_callsync_wrote_into_the_source_is_no_call_of_its_route(engine):
    """An echo: the call's record in ``close`` is the copy callsync wrote there."""
    original = make_call(1)
    echo = make_call(2, source="close")
    store(engine, original, echo)
    written(engine, original, "close", echo.source.external_id)
    report = build_report(engine, example_config())
    found, outreach = _target(report, CLOSE_ROUTE, "outreach")
    assert found.source_calls == 0
    assert sum(m.count for m in outreach.missing) == 0


def test_calls_per_tool_and_rep_count_every_record_a_tool_holds(engine):
    ana = make_call(1)
    ana_missed = make_call(2, outcome=Outcome.NO_ANSWER)
    ben = make_call(3, user=None)
    store(engine, ana, ana_missed, ben)
    written(engine, ana, "close", "c1")
    written(engine, ana_missed, "close", "c2")
    settled(engine, ben, "close", ledger.PARKED)
    tools = {tool.connection: tool for tool in build_report(engine, example_config()).tools}
    assert (tools["ample"].calls, tools["close"].calls, tools["outreach"].calls) == (3, 2, 0)
    assert tools["ample"].outcomes == {"connected": 2, "no_answer": 1}
    reps = {rep.email: rep for rep in tools["close"].reps}
    assert list(reps) == ["ana@callsync-demo.test"]
    assert (reps["ana@callsync-demo.test"].calls, reps["ana@callsync-demo.test"].connect_rate) == (
        2,
        0.5,
    )
    assert {rep.email for rep in tools["ample"].reps} == {"", "ana@callsync-demo.test"}


def test_since_and_until_bound_the_calls_by_when_they_happened(engine):
    day = timedelta(days=1)
    before, first, last, after = (
        make_call(n, started_at=T0 + offset)
        for n, offset in enumerate(
            (-timedelta(seconds=1), timedelta(0), day - timedelta(seconds=1), day)
        )
    )
    store(engine, before, first, last, after)
    for call in (before, first, last, after):
        settled(engine, call, "close", ledger.PARKED)
    report = build_report(engine, example_config(), since=T0, until=T0 + day)
    found, close = _target(report, AMPLE_ROUTE, "close")
    assert found.source_calls == 2
    [parked] = [m for m in close.missing if m.reason == "parked"]
    assert (parked.count, set(parked.examples)) == (2, {first.call_uid, last.call_uid})
    tools = {tool.connection: tool.calls for tool in report.tools}
    assert tools["ample"] == 2
    everything = build_report(engine, example_config())
    assert _target(everything, AMPLE_ROUTE, "close")[0].source_calls == 4


def test_route_from_keeps_only_the_routes_of_that_connection(engine):
    report = build_report(engine, example_config(), route_from="close")
    assert [route.route for route in report.routes] == [CLOSE_ROUTE]


def test_examples_are_capped_and_the_count_is_not(engine):
    calls = [make_call(n) for n in range(8)]
    store(engine, *calls)
    report = build_report(engine, example_config(), examples=3)
    _, close = _target(report, AMPLE_ROUTE, "close")
    [waiting] = [m for m in close.missing if m.reason == "not_attempted"]
    assert waiting.count == 8
    assert waiting.examples == tuple(sorted(c.call_uid for c in calls)[:3])
