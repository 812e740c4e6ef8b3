"""Killed and stopped runs, against the emulators: a SIGKILLed ``callsync pull`` leaves nothing
that blocks the next run; SIGTERM stops ``callsync sync`` at a boundary, cleanly; a stream a live
run holds is skipped, named with its holder, and the exit code says so."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncer import processes
from syncer.store import database, leases
from tests.cli.test_cli import CALLSYNC, callsync
from tests.cli.test_emulators_cli import start_emulators, stop
from tests.fleet import EXAMPLE, example_env


@pytest.fixture
def emulated(tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    """The environment that points the example config at running emulators and ``database_url``."""
    process, urls = start_emulators(tmp_path / "state")
    env = example_env(urls, database_url)
    try:
        yield env
    finally:
        assert stop(process) == 0


def _start(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLSYNC_")}
    return subprocess.Popen(
        [str(CALLSYNC), command, "--config", str(EXAMPLE)],
        cwd=cwd,
        env={**base, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _leases(url: str) -> list[sa.Row[tuple[str, int | None]]]:
    engine = database.create_engine(url)
    try:
        database.upgrade(engine)
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT name, pid FROM leases ORDER BY name")))
    finally:
        engine.dispose()


def _runs(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT status FROM sync_runs ORDER BY id")).scalars())
    finally:
        engine.dispose()


def _wait_for_stream_lease(process: subprocess.Popen[str], url: str, prefix: str) -> None:
    """Until ``process`` holds a lease named ``prefix...`` (it is mid-stream)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be caught mid-stream"
        if any(name.startswith(prefix) and pid == process.pid for name, pid in _leases(url)):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {prefix} lease taken within 60 s")


def test_a_killed_pull_leaves_nothing_that_blocks_the_next(tmp_path, database_url, emulated):
    killed = _start("pull", tmp_path, emulated)
    _wait_for_stream_lease(killed, database_url, "pull:")
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    assert any(pid == killed.pid for _, pid in _leases(database_url))  # left behind

    started = time.monotonic()
    after = callsync("pull", "--config", str(EXAMPLE), cwd=tmp_path, env=emulated)
    assert after.returncode == 0, (after.stdout, after.stderr)
    assert time.monotonic() - started < 60  # not waiting out the killed run's leases
    assert "skipped" not in after.stdout + after.stderr
    statuses = _runs(database_url)
    assert "died" in statuses and "running" not in statuses
    again = callsync("pull", "--config", str(EXAMPLE), cwd=tmp_path, env=emulated)
    assert again.returncode == 0, again.stderr
    names = ("ample:", "outreach:", "close:", "pipedrive:")  # the plain lines, not the table
    lines = [line for line in again.stdout.splitlines() if line.startswith(names)]
    assert len(lines) == len(names), again.stdout
    for line in lines:  # everything was read by the run after the kill
        assert "stored 0," in line and "stored 0, " in line.split(";")[-1], line
    assert _leases(database_url) == []


def test_sigterm_stops_a_sync_cleanly(tmp_path, database_url, emulated):
    run = _start("sync", tmp_path, emulated)
    _wait_for_stream_lease(run, database_url, "pull:")
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1, (out, err)
    assert "interrupted" in out + err
    assert _leases(database_url) == []
    statuses = _runs(database_url)
    assert statuses and "running" not in statuses and "interrupted" in statuses


def test_a_stream_a_live_run_holds_is_skipped_named_and_exit_1(tmp_path, database_url, emulated):
    engine = database.create_engine(database_url)
    try:
        database.upgrade(engine)
        with engine.begin() as conn:  # held by this test process: alive
            assert leases.take(conn, "pull:close:calls", "other-run", timedelta(minutes=1))
    finally:
        engine.dispose()
    result = callsync(
        "pull", "--connection", "close", "--config", str(EXAMPLE), cwd=tmp_path, env=emulated
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    holder = processes.me().describe()
    assert f"calls skipped: held by {holder}" in result.stderr
    assert f"skipped: close stream calls: held by {holder}" in result.stderr
