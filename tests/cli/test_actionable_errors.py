"""Errors a person can act on (issue 11), against the emulators: a refused key names the
connection and what the vendor answered, never the key; a vendor that is down is named with
its address while the others go on; a base_url nothing answers on is named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.emulation.fleet import Fleet
from connectors.emulation.world import World
from tests.cli.test_cli import EXAMPLE, callsync
from tests.cli.test_exit_codes import _closed_port
from tests.fleet import KINDS, example_env, running

# connection in config.example.yaml, its kind, the variable of its secret, what the vendor says
WRONG_KEYS = [
    ("ample", "amplemarket", "AMPLEMARKET_API_KEY", "Invalid API key"),
    ("outreach", "outreach", "OUTREACH_CLIENT_SECRET", "invalid_client: Client authentication"),
    ("close", "close", "CLOSE_API_KEY", "The API key is missing or invalid."),
    ("pipedrive", "pipedrive", "PIPEDRIVE_API_TOKEN", "unauthorized access"),
]


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with running(KINDS, World(seed=5, calls=40)) as served:
        yield served


def _env(fleet: Fleet, tmp_path: Path) -> dict[str, str]:
    return example_env(fleet.base_urls, f"sqlite:///{tmp_path / 'callsync.db'}")


@pytest.mark.parametrize(("name", "kind", "variable", "answer"), WRONG_KEYS)
def test_a_wrong_key_names_the_connection_and_the_vendors_answer_never_the_key(
    fleet, tmp_path, name, kind, variable, answer
):
    key = f"wrong-key-zx81-{kind}-0000"
    env = {**_env(fleet, tmp_path), variable: key}
    result = callsync(
        "pull", "--quiet", "--connection", name, "--config", str(EXAMPLE), cwd=tmp_path, env=env
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{name}: ")]
    assert lines, output
    assert "answered 401" in lines[0] and answer in lines[0], lines[0]
    assert result.stderr.splitlines()[-1] == f"pull: failed: {name}"  # the verdict
    assert result.stdout == ""  # --quiet: nothing but the error and the verdict
    assert key not in output and "Traceback" not in output


def test_a_vendor_that_is_down_is_named_and_the_others_go_on(fleet, tmp_path):
    env = _env(fleet, tmp_path)
    down = f"http://127.0.0.1:{_closed_port()}"  # Outreach's emulator is not there
    env["OUTREACH_BASE_URL"] = down
    result = callsync("sync", "--json", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads(result.stdout)  # --json: one object, nothing else on stdout
    rows = {row["name"]: row for row in summary["connections"]}
    assert [name for name, row in rows.items() if not row["ok"]] == ["outreach"]
    assert f"outreach at {down}" in rows["outreach"]["status"]
    assert all(rows[name]["read"] > 0 for name in ("ample", "close", "pipedrive"))
    targets = {(row["route"], row["target"]): row for row in summary["targets"]}
    route = "0: ample -> close, pipedrive"
    assert targets[route, "close"]["ok"] and targets[route, "close"]["created"] > 0
    assert targets[route, "pipedrive"]["ok"] and targets[route, "pipedrive"]["created"] > 0
    assert "deferred" in targets["1: close -> outreach", "outreach"]["status"]
    assert summary["failures"] == ["outreach", "route 1: close -> outreach => outreach"]
    said = [line for line in result.stderr.splitlines() if line.startswith("outreach: ")]
    assert said and down in said[0] and "giving up on it for this run" in said[0]


def test_a_base_url_that_does_not_answer_is_named_with_its_connection(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {"CLOSE_BASE_URL": url, "CALLSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    result = callsync(
        "pull", "--connection", "close", "--config", str(EXAMPLE), cwd=tmp_path, env=env
    )
    assert result.returncode == 1, result.stdout + result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("close: ")]
    assert said and f"close at {url}" in said[0], result.stderr
