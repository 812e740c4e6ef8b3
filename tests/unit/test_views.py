"""The shared view of pull, sync and backfill: summaries built from the engine's reports, and
how each output mode prints them (plain lines kept, --quiet, --json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from rich.console import Console

from syncer.backfill import BackfillStats
from syncer.backfill_run import BackfillReport
from syncer.pull import PullProgress, PullResult, StreamStats
from syncer.push_stats import PushStats
from syncer.runner import Cost, SyncReport
from syncer.views import output, progress, summary
from syncer.views.output import Mode

ROUTE = "0: ample -> close"


def report(*, failed_pull: bool = False) -> SyncReport:
    calls = StreamStats(pages=2, records=7, stored=5, quarantined=1, deleted=1, complete=True)
    made = SyncReport(costs={"ample": Cost(12, 1.5)})
    made.pulls["ample"] = PullResult(streams={"calls": calls})
    made.pulls["close"] = "AuthError: close answered 401: nope" if failed_pull else PullResult()
    deferred = "deferred: its pull failed" if failed_pull else None
    made.pushes[ROUTE] = {"close": PushStats(created=3, matched=1, parked=2, error=deferred)}
    return made


def test_a_sync_summary_counts_per_connection_and_target():
    ended = summary.of_sync("sync", report())
    ample = ended.connections[0]
    assert (ample.read, ample.stored, ample.quarantined, ample.deleted) == (7, 5, 1, 1)
    assert (ample.requests, ample.seconds, ample.status) == (12, 1.5, "ok")
    target = ended.targets[0]
    assert (target.stats.created, target.stats.matched, target.status) == (3, 1, "ok")
    assert ended.ok and ended.failures == []


def test_failed_parts_are_named_and_their_lines_go_to_stderr(capsys):
    ended = summary.of_sync("sync", report(failed_pull=True))
    assert ended.failures == ["close", f"route {ROUTE} => close"]
    output.emit(ended, Mode.NORMAL)
    out, err = capsys.readouterr()
    assert "close: failed: AuthError: close answered 401: nope" in err.splitlines()
    assert f"route {ROUTE} => close: created 3, matched 1, parked 2" in err
    assert err.splitlines()[-1] == f"sync: failed: close; route {ROUTE} => close"
    assert "ample: calls read 7, stored 5, quarantined 1, deleted 1" in out.splitlines()
    assert "connections" in out and "route targets" in out  # the tables


def test_the_plain_route_lines_stay_on_stdout(capsys):
    output.emit(summary.of_sync("sync", report()), Mode.NORMAL)
    out, err = capsys.readouterr()
    assert f"route {ROUTE} => close: created 3, matched 1, parked 2" in out.splitlines()
    assert out.splitlines()[-1] == "sync: ok (2 connections, 7 calls read, 3 created)"
    assert err == ""


def test_quiet_prints_only_problems_and_the_verdict(capsys):
    output.emit(summary.of_sync("sync", report()), Mode.QUIET)
    assert capsys.readouterr() == ("sync: ok (2 connections, 7 calls read, 3 created)\n", "")
    output.emit(summary.of_sync("sync", report(failed_pull=True)), Mode.QUIET)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == "close: failed: AuthError: close answered 401: nope"
    assert err.splitlines()[-1].startswith("sync: failed: close")


@pytest.mark.parametrize("failed", [False, True])
def test_json_is_one_object_on_stdout(capsys, failed):
    output.emit(summary.of_sync("sync", report(failed_pull=failed)), Mode.JSON)
    out, _ = capsys.readouterr()
    parsed = json.loads(out)  # the whole of stdout: no table, no plain line
    assert parsed["ok"] is not failed
    assert [row["name"] for row in parsed["connections"]] == ["ample", "close"]
    assert parsed["connections"][0]["detail"]["streams"]["calls"]["stored"] == 5
    target = parsed["targets"][0]
    assert (target["route"], target["created"], target["linked"]) == (ROUTE, 3, 1)


def test_a_backfill_summary_has_its_windows_and_failures(capsys):
    loads = {
        "ample": BackfillStats("ample", windows=4, windows_done=4, complete=True, requests=9),
        "close": BackfillStats("close", windows=4, windows_done=1, error="close is down"),
    }
    loads["ample"].resumed_at = datetime(2026, 1, 2, tzinfo=UTC)
    ended = summary.of_backfill(BackfillReport(loads=loads), interrupted=False)
    assert ended.failures == ["close: close is down"]
    output.emit(ended, Mode.NORMAL)
    out, err = capsys.readouterr()
    assert "4/4" in out and "resumed at 2026-01-02T00:00:00+00:00" in out
    assert "failed: close: close is down" in err


def test_progress_lines_off_a_terminal_come_at_most_every_few_seconds(capsys):
    now = [100.0]
    view = progress.ProgressView(progress.Shown.PLAIN, clock=lambda: now[0])
    view.pull_page(PullProgress("close", "calls", 10, 8, 3))
    now[0] += progress.LOG_EVERY - 1
    view.pull_page(PullProgress("close", "calls", 20, 16, 5))
    assert capsys.readouterr().err == ""  # a short run says nothing
    now[0] += 1
    view.pull_page(PullProgress("close", "events", 30, 20, 7))
    line = capsys.readouterr().err
    assert line.startswith("close: read 30, stored 20, requests 7")
    assert line.rstrip().endswith("reading events")


def test_on_a_terminal_each_connection_has_its_progress_line():
    console = Console(file=StringIO(), force_terminal=True, width=160)
    with progress.ProgressView(progress.Shown.LIVE, console) as view:
        view.pull_page(PullProgress("ample", "calls", 4, 4, 2))
        view.pull_page(PullProgress("close", "calls", 9, 7, 3))
        view.pull_page(PullProgress("ample", "calls", 6, 5, 4))
        details = {t.description: t.fields["detail"] for t in view.progress.tasks}
    assert details["ample"].startswith("read 6, stored 5, requests 4")
    assert details["close"].startswith("read 9, stored 7, requests 3")


def test_quiet_shows_no_progress(capsys):
    view = progress.ProgressView(progress.shown_for(quiet=True))
    view.pull_page(PullProgress("close", "calls", 1, 1, 1))
    assert capsys.readouterr() == ("", "")
