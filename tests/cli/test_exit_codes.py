"""One exit-code rule for every command (issue 9): 0 everything that should have run did;
1 some connection or route failed or was cut short, named in the output; 2 bad input."""

from __future__ import annotations

import socket
import time

from tests.cli.test_cli import EXAMPLE, callsync

VARIABLES = ("AMPLEMARKET_BASE_URL", "OUTREACH_BASE_URL", "CLOSE_BASE_URL", "PIPEDRIVE_BASE_URL")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def test_a_sync_that_reached_no_vendor_exits_1_and_names_each_one(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    env = dict.fromkeys(VARIABLES, url)
    env["CALLSYNC_DATABASE_URL"] = f"sqlite:///{tmp_path / 'callsync.db'}"
    started = time.monotonic()
    result = callsync("sync", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
    took = time.monotonic() - started
    assert result.returncode == 1, (result.stdout, result.stderr)
    for name in ("ample", "outreach", "close", "pipedrive"):
        assert f"{name}: " in result.stderr and "giving up on it for this run" in result.stderr
    assert "deferred: its pull failed" in result.stderr
    # Not a timing test: a bound far above the few seconds it takes, far below the minutes
    # that nested retries used to cost.
    assert took < 90, took
