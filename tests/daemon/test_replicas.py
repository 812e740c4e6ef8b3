"""Several ``callsync run`` on one PostgreSQL database share the work; killing one hands its
connections to the others; a killed daemon restarted loses and duplicates nothing."""

from __future__ import annotations

import signal

import pytest

from tests.chaos.trial import Trial, trial_database
from tests.conftest import BACKENDS, PG_URL
from tests.daemon.harness import RunningDaemon, daemon_config
from tests.daemon.test_daemon import JOBS, _assert_each_call_once, _pull_runs_overlap


def _runs(daemons: list[RunningDaemon], job: str) -> float:
    return sum(d.job_runs(job) for d in daemons if d.process.poll() is None)


@pytest.mark.postgres
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not among the test backends")
@pytest.mark.parametrize("replicas", [2, 3])
def test_replicas_share_the_connections_and_take_over_from_a_killed_one(
    replicas, postgres_database, tmp_path
):
    with trial_database(4200 + replicas, PG_URL) as url:
        trial = Trial(seed=4200 + replicas, database_url=url, calls=30)
        try:
            _kill_one_of(replicas, trial, tmp_path)
            assert trial.clean_sync().returncode == 0
            _assert_each_call_once(trial)
            assert _pull_runs_overlap(url) == []
        finally:
            trial.close()


def _kill_one_of(replicas: int, trial: Trial, tmp_path) -> None:
    daemons: list[RunningDaemon] = []
    try:
        for index in range(replicas):
            config = trial.directory / f"replica{index}.yaml"
            port = daemon_config(trial, every="1s", path=config)
            daemons.append(RunningDaemon(trial, port, tmp_path / f"r{index}.log", config))
        for daemon in daemons:
            daemon.wait_until(lambda d=daemon: d.get("/readyz").status_code == 200, 60, "ready")
        first, others = daemons[0], daemons[1:]
        first.wait_until(
            lambda: all(_runs(daemons, job) >= 3 for job in JOBS), 120, "every job 3 times"
        )
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        before = {job: _runs(others, job) for job in JOBS}
        others[0].wait_until(
            lambda: all(_runs(others, job) >= before[job] + 2 for job in JOBS),
            90,
            "the others take over every job",
        )
    finally:
        codes = [d.stop() for d in daemons[1:]]
    assert codes == [0] * (replicas - 1), [d.output()[-2000:] for d in daemons]


def test_a_killed_daemon_restarted_loses_nothing_and_writes_nothing_twice(tmp_path):
    trial = Trial(seed=4300, database_url=None, calls=30)
    try:
        port = daemon_config(trial, every="1s")
        for attempt in range(3):
            daemon = RunningDaemon(trial, port, tmp_path / f"run{attempt}.log")
            daemon.wait_until(lambda d=daemon: d.get("/readyz").status_code == 200, 60, "ready")
            daemon.wait_until(lambda d=daemon: d.job_runs("pull:ample") >= 1, 60, "a pull")
            assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        daemon = RunningDaemon(trial, port, tmp_path / "last.log")
        daemon.wait_until(lambda: all(daemon.job_runs(job) >= 2 for job in JOBS), 120, "2 runs")
        assert daemon.stop() == 0, daemon.output()
        assert trial.clean_sync().returncode == 0
        _assert_each_call_once(trial)
    finally:
        trial.close()
