"""``callsync backfill`` and dry runs against the four emulators (issue 10).

The backfill runs as a user runs it (``python -m syncer`` subprocesses, as the chaos harness
does), except where a test compares the plan of a dry run with what a real run then does:
that one calls the engine in-process so it can read both reports.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from syncer.backfill_run import BackfillRequest, run_backfill
from syncer.config import load_config
from syncer.runner import connected
from syncer.store import database
from tests.chaos.trial import CALL_COLLECTION, Trial, _all_due, check, remote_markers
from tests.cli.test_cli import EXAMPLE

SINCE, UNTIL = datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 10, 12, tzinfo=UTC)
RANGE = ("--since", "2026-01-06", "--until", "2026-01-10T12:00:00", "--window", "1d")


@pytest.fixture
def trial():
    made = Trial(seed=11, database_url=None, calls=80)
    yield made
    made.close()


def callsync(trial: Trial, *args: str, db: str | None = None) -> subprocess.Popen[str]:
    env = dict(trial.env, CALLSYNC_DATABASE_URL=db or trial.database_url)
    return subprocess.Popen(
        [sys.executable, "-m", "syncer", *args, "--config", str(trial.config)],
        env=env,
        cwd=trial.directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(run: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = run.communicate(timeout=300)
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def ran(trial: Trial, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    done = finished(callsync(trial, *args, db=db))
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def stored_calls(url: str) -> set[tuple[str, str, datetime]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT origin_connection, origin_external_id, started_at FROM calls")
            ).all()
    finally:
        engine.dispose()
    return {(r[0], r[1], _aware(r[2])) for r in rows}


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cursors(url: str) -> dict[tuple[str, str], tuple[object, object]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT connection, stream, completed, partial FROM cursors")
            )
            return {(r[0], r[1]): (r[2], r[3]) for r in rows}
    finally:
        engine.dispose()


def emulator_counts(trial: Trial) -> dict[str, int]:
    counts = {}
    for kind, server in trial.servers.items():
        state = server.emulator.state  # type: ignore[attr-defined]
        query = "SELECT count(*) FROM docs WHERE coll = ?"
        counts[kind] = state.execute(query, (CALL_COLLECTION[kind],)).fetchone()[0]
    return counts


def ledger_rows(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM call_links")).scalar_one())
    finally:
        engine.dispose()


def test_backfill_stores_exactly_the_calls_of_the_window_and_no_live_cursor_moves(trial):
    live_db = f"sqlite:///{trial.directory / 'live.db'}"
    ran(trial, "pull", db=live_db)
    everything = stored_calls(live_db)
    in_window = {c for c in everything if SINCE <= c[2] < UNTIL}
    assert {c[0] for c in in_window} == {"ample", "close", "outreach", "pipedrive"}
    assert len(in_window) < len(everything)  # the range is a real part of the history

    # A second store against the same Outreach: its refresh token was rotated by the first.
    trial._reauthorise()
    ran(trial, "backfill", *RANGE, "--dry-run")  # a fresh store: loads, writes nothing
    assert stored_calls(trial.database_url) == in_window

    before = cursors(live_db)
    trial._reauthorise()
    ran(trial, "backfill", *RANGE, "--dry-run", db=live_db)  # beside a live cursor
    after = cursors(live_db)
    assert {k: v for k, v in after.items() if not k[1].startswith("backfill:")} == before
    assert {k for k in after if k[1].startswith("backfill:")} == {
        (name, "backfill:calls") for name in ("ample", "close", "outreach", "pipedrive")
    }


def wait_for_rows(url: str, table: str, count: int, run: subprocess.Popen[str]) -> bool:
    """Wait until ``table`` holds ``count`` rows; False if the run ended first."""
    engine = sa.create_engine(url)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and run.poll() is None:
            try:
                with engine.connect() as conn:
                    found = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            except sa.exc.OperationalError:
                found = 0  # the schema is not there yet, or the writer holds the lock
            if found >= count:
                return run.poll() is None
            time.sleep(0.05)
        return False
    finally:
        engine.dispose()


def test_a_backfill_killed_again_and_again_ends_like_an_uninterrupted_one():
    straight = Trial(seed=12, database_url=None, calls=80)
    killed = Trial(seed=12, database_url=None, calls=80)
    try:
        ran(straight, "backfill", *RANGE)
        cut_short = 0
        # Kill points: while loading (after some pages), then while pushing (after some writes).
        for table, count in (("calls", 5), ("calls", 25), ("call_links", 3), ("call_links", 12)):
            run = callsync(killed, "backfill", *RANGE)
            cut_short += wait_for_rows(killed.database_url, table, count, run)
            run.send_signal(signal.SIGKILL)
            run.communicate()
            _all_due(killed.database_url)  # the killed run's lease would expire in minutes
        resumed = ran(killed, "backfill", *RANGE)
        assert cut_short >= 3, "the kills came too late to interrupt anything"
        assert "resumed at" in resumed.stdout
        assert stored_calls(killed.database_url) == stored_calls(straight.database_url)
        for kind in CALL_COLLECTION:
            assert set(remote_markers(killed, kind)) == set(remote_markers(straight, kind)), kind
        verdict = check(killed)
        assert (verdict.duplicates, verdict.lost, verdict.twin_copies) == (0, 0, 0), verdict
    finally:
        straight.close()
        killed.close()


def test_a_sync_beside_and_after_a_backfill_writes_nothing_twice(trial):
    beside = [callsync(trial, "backfill", *RANGE), callsync(trial, "sync")]
    for run in beside:
        done = finished(run)
        # Exit 1 only for work the other run held (named), never for a failure.
        held = "held by" in done.stderr and "stopped early" not in done.stderr
        assert done.returncode == 0 or (done.returncode == 1 and held), done.stdout + done.stderr
    _all_due(trial.database_url)
    ran(trial, "sync")
    ran(trial, "backfill", *RANGE, "--window", "2d")  # another backfill over the same calls
    last = ran(trial, "sync")
    # The plain route lines name what was written (the summary table has a "created" column).
    written = [line for line in last.stdout.splitlines() if line.startswith("route")]
    assert not [line for line in written if "created" in line], last.stdout
    verdict = check(trial)
    assert (verdict.duplicates, verdict.lost, verdict.twin_copies) == (0, 0, 0), verdict


def test_a_dry_run_writes_nothing_and_plans_what_the_real_run_then_does(trial, database_url):
    """In-process, on each backend: the plan against the real run's own report."""
    config = load_config(trial.config, env=trial.env)
    engine = database.create_engine(database_url)
    database.upgrade(engine)
    request = BackfillRequest(SINCE, UNTIL, timedelta(days=1), dry_run=True)
    try:
        targets_before = emulator_counts(trial)
        with connected(config, engine) as live:
            planned = run_backfill(config, engine, live, request)
        assert emulator_counts(trial) == targets_before
        assert ledger_rows(database_url) == 0
        assert planned.plan is not None and planned.plan.totals()["create"] > 0
        real_request = BackfillRequest(SINCE, UNTIL, timedelta(days=1))
        with connected(config, engine) as live:
            real = run_backfill(config, engine, live, real_request)
    finally:
        engine.dispose()
    assert emulator_counts(trial) != targets_before
    for route, targets in real.pushes.items():
        source = route.split(" -> ")[0]
        for target, stats in targets.items():
            tally = planned.plan.target(f"{source} -> {target}", target).counts
            done = {
                "create": stats.created,
                "link": stats.matched,
                "park": stats.parked,
                "skip": stats.skipped,
                "fail": stats.failed,
            }
            assert {a: tally[a] for a in done} == done, (route, target)


def test_sync_dry_run_prints_the_plan_and_writes_nothing(trial):
    before = emulator_counts(trial)
    done = ran(trial, "sync", "--dry-run")
    assert "dry run: nothing was written to any target" in done.stdout
    assert "create" in done.stdout
    assert emulator_counts(trial) == before
    assert ledger_rows(trial.database_url) == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--since", "last tuesday"),
        ("--since", "2026-02-01", "--until", "2026-01-01"),
        ("--since", "2026-01-01", "--until", "2026-01-01"),
        ("--since", "2026-01-01", "--window", "0d"),
        ("--since", "2026-01-01", "--window", "weekly"),
        ("--since", "2026-01-01", "--connection", "nope"),
        ("--since", "2026-01-01", "--route", "nope"),
    ],
)
def test_bad_input_exits_2_before_anything_runs(tmp_path, args):
    done = subprocess.run(
        [sys.executable, "-m", "syncer", "backfill", *args, "--config", str(EXAMPLE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error" in done.stderr.lower()
    assert not (tmp_path / "callsync.db").exists()
