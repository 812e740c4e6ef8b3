"""One exit-code rule for every command (issue 9): 0 everything that should have run did;
1 some connection or route failed or was cut short, named in the output; 2 bad input."""

from __future__ import annotations

import socket
import time

from tests.cli.test_cli import callsync
from tests.fleet import BASE_URL_VARIABLE, EXAMPLE, example_env, running

VARIABLES = tuple(BASE_URL_VARIABLE.values())


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


def test_a_refresh_token_already_used_says_so_and_where_to_put_a_new_one(tmp_path):
    """A fresh database with a config whose Outreach refresh token was spent elsewhere (here:
    by a first callsync database; Outreach rotates the token on every use)."""
    from connectors.emulation.world import World

    with running(["outreach"], World(seed=3, calls=10)) as fleet:
        env = example_env(fleet.base_urls)
        args = ("pull", "--connection", "outreach", "--config", str(EXAMPLE))
        first_db = {"CALLSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'first.db'}"}
        first = callsync(*args, cwd=tmp_path, env={**env, **first_db})
        assert first.returncode == 0, first.stderr
        fresh_db = {"CALLSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
        refused = callsync(*args, cwd=tmp_path, env={**env, **fresh_db})
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1, output
    assert "the Outreach refresh token in ${OUTREACH_REFRESH_TOKEN}" in refused.stderr, output
    assert "connections.outreach.refresh_token in " + str(EXAMPLE) in refused.stderr
    assert "already used or revoked (invalid_grant)" in refused.stderr
    assert "authorise callsync's Outreach app again" in refused.stderr
    assert "Traceback" not in output
    for secret in ("callsync-demo-outreach-refresh", "callsync-demo-outreach-secret"):
        assert secret not in output
