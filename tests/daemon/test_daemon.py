"""``callsync run`` as an operator runs it: a subprocess against the four emulators on loopback,
scraped over HTTP, stopped with signals, killed and restarted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from connectors.emulation.faults import FaultPlan
from syncer.config import load_config
from tests.chaos.trial import Trial, check, trial_database
from tests.conftest import BACKENDS, PG_URL
from tests.daemon.harness import RunningDaemon, daemon_config

JOBS = ("pull:ample", "pull:outreach", "pull:close", "pull:pipedrive")


@pytest.fixture
def trial():
    trial = Trial(seed=41, database_url=None, calls=30)
    yield trial
    trial.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_trial(request):
    """A trial on each backend (PostgreSQL: a database of its own on the test server)."""
    if request.param not in BACKENDS:
        pytest.skip(f"{request.param} not among the test backends")
    server = None
    if request.param == "postgresql":
        request.getfixturevalue("postgres_database")  # skips when no server answers
        server = PG_URL
    with trial_database(41, server) as url:
        made = Trial(seed=41, database_url=url, calls=30)
        yield made
        made.close()


def _assert_each_call_once(trial: Trial) -> None:
    verdict = check(trial)
    assert (verdict.duplicates, verdict.twin_copies, verdict.lost) == (0, 0, 0), verdict.details


def _pull_runs_overlap(database_url: str) -> list[str]:
    """Pull runs of one connection whose times overlap (two workers pulling it at once)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT connection, started_at, finished_at FROM sync_runs "
                    "WHERE kind = 'pull' AND status NOT IN ('busy', 'died') "
                    "ORDER BY connection, started_at"
                )
            ).all()
    finally:
        engine.dispose()
    overlaps, last = [], {}
    for connection, started, finished in rows:
        if connection in last and (last[connection] is None or started < last[connection]):
            overlaps.append(f"{connection} at {started}")
        last[connection] = finished
    return overlaps


def _secrets(trial: Trial) -> list[str]:
    """Every secret the config resolves to (API keys, client secrets, refresh tokens)."""
    config = load_config(trial.config, env=trial.env)
    found = []
    for connection in config.connections.values():
        for name in type(connection.settings).model_fields:
            value = getattr(connection.settings, name)
            if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 6:
                found.append(value.get_secret_value())
    return found


def test_jobs_run_on_schedule_are_scraped_and_stop_cleanly_on_sigterm(any_trial, tmp_path):
    trial = any_trial
    port = daemon_config(trial)
    options = ("--log-format", "json", "--log-level", "DEBUG")
    daemon = RunningDaemon(trial, port, tmp_path / "daemon.log", options=options)
    try:
        daemon.wait_until(lambda: daemon.get("/readyz").status_code == 200, 30, "readyz")
        daemon.wait_until(
            lambda: all(daemon.job_runs(job) >= 2 for job in JOBS), 90, "every job twice"
        )
        health = daemon.get("/healthz")
        assert health.status_code == 200, health.text
        samples = daemon.metrics()
        read = sum(v for (name, _), v in samples.items() if name == "callsync_records_total")
        written = sum(v for (name, _), v in samples.items() if name == "callsync_writes_total")
        requests = [k for k in samples if k[0] == "callsync_vendor_requests_total"]
        assert read > 0 and written > 0, samples
        assert any(name == "callsync_rate_limit_headroom_ratio" for name, _ in samples)
        assert {dict(labels)["connection"] for _, labels in requests} == {
            "ample",
            "outreach",
            "close",
            "pipedrive",
        }
    finally:
        code = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.output()
    lines = daemon.output().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert "daemon.stopping" in {event["event"] for event in events}
    assert {"job", "run"} <= {key for event in events for key in event}
    secrets = _secrets(trial)
    assert secrets  # the example config has keys, a client secret and a refresh token
    leaked = [line for line in lines for secret in secrets if secret in line]
    assert leaked == []
    _assert_each_call_once(trial)
    assert _pull_runs_overlap(trial.database_url) == []


def test_a_second_daemon_on_one_sqlite_database_refuses_to_start(trial, tmp_path):
    port = daemon_config(trial, every="1m")
    first = RunningDaemon(trial, port, tmp_path / "first.log")
    try:
        first.wait_until(lambda: first.get("/readyz").status_code == 200, 30, "readyz")
        second = RunningDaemon(trial, port, tmp_path / "second.log")
        second.process.wait(60)
        assert second.stop() == 1
        assert "another callsync daemon (pid" in second.output()
        assert first.process.poll() is None  # the first goes on
    finally:
        assert first.stop() == 0, first.output()


def test_a_slow_vendor_does_not_delay_the_other_jobs(trial, tmp_path):
    # Amplemarket is the source of a route but no route's target: only its own job waits on it.
    trial.servers["amplemarket"].emulator.faults = FaultPlan(latency_ms=2000)
    port = daemon_config(trial, every="1s")
    daemon = RunningDaemon(trial, port, tmp_path / "daemon.log")
    try:
        others = ("pull:outreach", "pull:close", "pull:pipedrive")
        daemon.wait_until(
            lambda: all(daemon.job_runs(job) >= 5 for job in others), 120, "other jobs 5 times"
        )
        assert daemon.job_runs("pull:ample") <= 2
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_sigterm_mid_pull_stops_at_a_page_boundary_and_exits_0_within_the_grace(
    any_trial, tmp_path
):
    trial = any_trial
    for server in trial.servers.values():
        server.emulator.faults = FaultPlan(latency_ms=400)  # every page takes a while
    port = daemon_config(trial, every="1m", grace="20s")
    daemon = RunningDaemon(trial, port, tmp_path / "daemon.log")
    daemon.wait_until(lambda: _running(trial), 30, "a pull")
    time.sleep(1.0)
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0, daemon.output()
    assert time.monotonic() - started < 20
    assert _running(trial) is False  # no run row left `running`, no lease left behind
    for server in trial.servers.values():
        server.emulator.faults = FaultPlan()
    assert trial.clean_sync().returncode == 0
    _assert_each_call_once(trial)


def _running(trial: Trial) -> bool:
    engine = sa.create_engine(trial.database_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("sync_runs"):
                return False
            runs = conn.execute(sa.text("SELECT count(*) FROM sync_runs WHERE status = 'running'"))
            leases = conn.execute(sa.text("SELECT count(*) FROM leases")).scalar_one()
            return bool(runs.scalar_one() or leases)
    finally:
        engine.dispose()


def _daemon_state(trial: Trial, connection: str) -> dict:
    engine = sa.create_engine(trial.database_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("connector_state"):
                return {}
            value = conn.execute(
                sa.text(
                    "SELECT value FROM connector_state WHERE connection = :c AND key = 'daemon'"
                ),
                {"c": connection},
            ).scalar_one_or_none()
    finally:
        engine.dispose()
    return json.loads(value) if isinstance(value, str) else (value or {})


def test_a_failing_connection_backs_off_and_the_others_go_on(trial, tmp_path):
    trial.servers["close"].stop()  # Close is unreachable for the whole run
    port = daemon_config(trial, every="1s")
    daemon = RunningDaemon(trial, port, tmp_path / "daemon.log")
    try:
        daemon.wait_until(lambda: daemon.get("/readyz").status_code == 200, 30, "readyz")
        daemon.wait_until(
            lambda: _daemon_state(trial, "close").get("failures", 0) >= 3, 120, "close failing"
        )
        state = _daemon_state(trial, "close")
        assert "giving up on it for this run" in state["last_error"]
        assert state["next_attempt"] > state["last_finished"]
        daemon.wait_until(lambda: daemon.job_runs("pull:outreach") >= 8, 120, "outreach going on")
        # Backing off: 1 s, 2 s, 4 s ... so Close was tried far fewer times than Outreach.
        assert daemon.job_runs("pull:close") <= 5
        assert _daemon_state(trial, "outreach")["failures"] == 0
        status = trial_status(trial)
        assert "close" in status and "giving up on it" in status
    finally:
        assert daemon.stop() == 0, daemon.output()


def trial_status(trial: Trial) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "syncer", "status", "--config", str(trial.config)],
        env=trial.env,
        cwd=trial.directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout + result.stderr


def test_a_backfill_beside_a_running_daemon_writes_nothing_twice(tmp_path):
    from tests.engine.test_backfill import RANGE, callsync, finished

    trial = Trial(seed=11, database_url=None, calls=80)  # the world test_backfill loads
    try:
        port = daemon_config(trial, every="1s")
        daemon = RunningDaemon(trial, port, tmp_path / "daemon.log")
        try:
            daemon.wait_until(lambda: daemon.get("/readyz").status_code == 200, 60, "ready")
            loaded = finished(callsync(trial, "backfill", *RANGE))
            held = "held by" in loaded.stderr and "stopped early" not in loaded.stderr
            assert loaded.returncode == 0 or held, loaded.stdout + loaded.stderr
            daemon.wait_until(lambda: all(daemon.job_runs(job) >= 2 for job in JOBS), 120, "runs")
        finally:
            assert daemon.stop() == 0, daemon.output()
        assert trial.clean_sync().returncode == 0
        _assert_each_call_once(trial)
    finally:
        trial.close()
