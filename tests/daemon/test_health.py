"""The daemon's health endpoints and backoff, in process (no vendor needed)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncer.config import load_config
from syncer.daemon import Daemon
from syncer.health import HealthServer
from syncer.store import database
from tests.cli.test_cli import EXAMPLE


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def config():
    return load_config(EXAMPLE)


def _scrape(daemon: Daemon, path: str) -> httpx.Response:
    server = HealthServer("127.0.0.1:0", daemon)
    server.start()
    try:
        return httpx.get(server.url + path, timeout=5, trust_env=False)
    finally:
        server.stop()


def test_healthz_is_503_with_the_reason_when_the_database_is_unreachable(config):
    url = f"postgresql+psycopg://callsync@127.0.0.1:{_closed_port()}/callsync?connect_timeout=2"
    engine = database.create_engine(url)
    try:
        answer = _scrape(Daemon(config, engine), "/healthz")
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert "database unreachable" in answer.text


def test_healthz_is_200_on_a_fresh_daemon_and_503_once_a_job_stops_completing(config, tmp_path):
    engine = database.create_engine(f"sqlite:///{tmp_path / 'callsync.db'}")
    try:
        daemon = Daemon(config, engine)
        assert _scrape(daemon, "/healthz").status_code == 200
        long_ago = datetime.now(UTC) - timedelta(hours=2)
        daemon.jobs["close"].last_finished = long_ago.isoformat()
        answer = _scrape(daemon, "/healthz")
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert "job pull:close has not completed" in answer.text


def test_readyz_only_while_scheduling_and_unknown_paths_are_404(config, tmp_path):
    engine = database.create_engine(f"sqlite:///{tmp_path / 'callsync.db'}")
    try:
        daemon = Daemon(config, engine)
        assert _scrape(daemon, "/readyz").status_code == 503  # not started
        assert _scrape(daemon, "/nope").status_code == 404
        assert _scrape(daemon, "/metrics").headers["content-type"].startswith("text/plain")
    finally:
        engine.dispose()


def test_backoff_doubles_from_the_interval_up_to_the_cap(config, tmp_path):
    engine = database.create_engine(f"sqlite:///{tmp_path / 'callsync.db'}")
    daemon = Daemon(config, engine)
    job = daemon.jobs["close"]
    every = job.every_seconds
    delays = []
    for failures in (1, 2, 3, 30):
        job.failures = failures
        delays.append(daemon.backoff(job))
    engine.dispose()
    assert every * 0.9 <= delays[0] <= every
    assert 2 * every * 0.9 <= delays[1] <= 2 * every
    assert 4 * every * 0.9 <= delays[2] <= 4 * every
    assert delays[3] <= config.schedule.max_backoff.total_seconds()
