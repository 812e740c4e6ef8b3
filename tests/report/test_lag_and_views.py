"""The report's sync lag, and its views: the terminal tables show the numbers ``to_dict()``
(what ``--json`` prints) has, row by row."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from rich.console import Console

from syncer.report import build_report, print_report
from syncer.report.model import LABELS, REASONS
from syncer.store import ledger, repo, runs
from tests.report.store import T0, example_config, make_call, quarantined, settled, store, written


def test_lag_counts_from_the_last_pull_that_ran_through_and_the_live_cursor(engine):
    now = T0 + timedelta(hours=3)
    with engine.begin() as conn:
        ok = runs.start_run(conn, "close", "pull")
        runs.finish_run(conn, ok, "ok", {})
        failed = runs.start_run(conn, "close", "pull")  # newer, but it did not run through
        runs.finish_run(conn, failed, "failed", {}, "close answered 503")
        conn.execute(
            runs.runs_t.update()
            .where(runs.runs_t.c.id == ok)
            .values(started_at=T0, finished_at=T0 + timedelta(minutes=1))
        )
        repo.save_cursor(
            conn, "close", "calls", completed={"through": (T0 - timedelta(hours=1)).isoformat()}
        )
        repo.save_cursor(conn, "close", "events", completed={"through": T0.isoformat()})
        later = (now - timedelta(seconds=5)).isoformat()
        repo.save_cursor(conn, "close", "backfill:calls", completed={"reached": later})
    lags = {lag.connection: lag for lag in build_report(engine, example_config(), now=now).lags}
    close = lags["close"]
    assert (close.last_pull_started_at, close.last_pull_finished_at) == (
        T0,
        T0 + timedelta(minutes=1),
    )
    assert close.pull_lag_seconds == 3 * 3600
    # The least advanced live stream; a backfill's own cursor says nothing of freshness.
    assert (close.read_up_to, close.cursor_lag_seconds) == (T0 - timedelta(hours=1), 4 * 3600)
    never = lags["outreach"]
    assert (never.last_pull_started_at, never.pull_lag_seconds, never.cursor_lag_seconds) == (
        None,
        None,
        None,
    )


def _mixed_store(engine) -> None:
    calls = [make_call(n) for n in range(7)]
    store(engine, *calls)
    written(engine, calls[0], "close", "c0")
    written(engine, calls[1], "close", "c1", kind=ledger.MATCHED)
    written(engine, calls[0], "pipedrive", "p0")
    settled(engine, calls[2], "close", ledger.PARKED)
    settled(engine, calls[3], "close", ledger.IN_DOUBT)
    settled(engine, calls[4], "pipedrive", ledger.FAILED)
    quarantined(engine, "ample", "ample-rec-1")
    inbound = make_call(9, source="close", outcome="no_answer")
    store(engine, inbound)


def _rows(text: str) -> list[list[str]]:
    """The body rows of every rendered table, as stripped cells."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]


def test_the_terminal_tables_show_the_numbers_of_the_json(engine):
    _mixed_store(engine)
    report = build_report(engine, example_config())
    data = json.loads(json.dumps(report.to_dict()))  # what --json prints
    out = io.StringIO()
    print_report(report, Console(file=out, width=250, color_system=None))
    text = out.getvalue()
    rows = _rows(text)
    for route in data["routes"]:
        assert (
            f"route {route['route']}: {route['complete']} of {route['source_calls']} calls" in text
        )
        for target in route["targets"]:
            counts = {m["reason"]: m["count"] for m in target["missing"]}
            expected = [target["complete"], target["written"], target["linked"]]
            expected += [counts[reason] for reason in REASONS]
            assert [target["target"], *map(str, expected)] in rows, (target, rows)
            for missing in target["missing"]:
                if missing["count"]:
                    label = LABELS[missing["reason"]]
                    [row] = [
                        r
                        for r in rows
                        if r[1:4] == [target["target"], label, str(missing["count"])]
                    ]
                    assert row[4] == missing["examples"][0]
    for tool in data["tools"]:
        assert [tool["connection"], tool["kind"], str(tool["calls"])] in [r[:3] for r in rows]
        for rep in tool["reps"]:
            rate = f"{rep['connect_rate']:.0%}"
            email = rep["email"] or "(no rep)"
            assert [tool["connection"], email, str(rep["calls"]), rate] in [r[:4] for r in rows]
    assert data["routes"][0]["targets"][0]["written"] == 1  # the store is what it claims
