"""An unreachable Outreach costs seconds, not minutes (issue 9): the token refresh and the
request it serves share one retry budget and one circuit, so a refused vendor is given up on
after a few connects instead of a retry loop nested inside each retry."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from syncer.config import load_config
from syncer.runner import connected, sync_once
from syncer.store import database
from tests.fleet import config_yaml, connection_yaml


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def test_a_pull_of_an_unreachable_outreach_gives_up_after_a_few_connects(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    connects: list[tuple[str, int]] = []
    real = socket.create_connection

    def counting(address, *args, **kwargs):
        if address[1] == port:
            connects.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    path = tmp_path / "callsync.yaml"
    outreach = connection_yaml("outreach", "outreach", f"http://127.0.0.1:{port}")
    path.write_text(config_yaml(database_url, [outreach]))
    config = load_config(path)
    engine = database.create_engine(database_url)
    database.upgrade(engine)
    started = time.monotonic()
    try:
        with connected(config, engine) as live:
            report = sync_once(config, engine, live, push=False)
    finally:
        engine.dispose()
    took = time.monotonic() - started
    error = report.failed_pulls()["outreach"]
    assert "giving up on it for this run" in error
    assert 1 <= len(connects) <= 3, connects
    # Not a timing test: the connect count above is the proof; this bound only catches the
    # minutes that nested retries used to cost, far above the few seconds it takes.
    assert took < 60, took
