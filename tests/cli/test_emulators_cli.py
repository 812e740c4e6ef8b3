"""`callsync emulators` serves all four vendors on loopback, and the example config pulls from
them with no credentials of its own: the whole read path over real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import connectors
from tests.cli.test_cli import callsync
from tests.fleet import EXAMPLE, example_env

CALLSYNC = Path(sys.executable).parent / "callsync"


def start_emulators(
    state_dir: Path, calls: int = 300
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``callsync emulators`` serving a world of ``calls`` (300: a pull long enough to be caught
    mid-stream), and the base URL of each kind."""
    process = subprocess.Popen(
        [
            str(CALLSYNC),
            "emulators",
            "--base-port",
            "0",
            "--calls",
            str(calls),
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    urls = {}
    assert process.stdout is not None
    for _ in connectors.known_kinds():
        kind, url = process.stdout.readline().split()
        urls[kind] = url
    return process, urls


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)  # also closes the pipes
    return process.returncode


def test_emulators_serve_every_kind_and_the_example_config_pulls_from_them(tmp_path, database_url):
    # A small world: the command, the example config and nothing-twice are what is proved here,
    # and every call of a larger one is just written again under the vendors' rate limits.
    process, urls = start_emulators(tmp_path / "state", calls=60)
    try:
        assert set(urls) == set(connectors.known_kinds())
        env = example_env(urls, database_url)
        result = callsync("pull", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        names = {"ample", "outreach", "close", "pipedrive"}
        # One plain line per connection, then the summary table and the verdict.
        said = (line.split(": ", 1) for line in result.stdout.splitlines())
        lines = {part[0]: part[1] for part in said if part[0] in names}
        assert set(lines) == names
        assert result.stdout.splitlines()[-1].startswith("pull: ok (4 connections")
        for summary in lines.values():
            assert "stored" in summary
            assert "stopped early" not in summary
        again = callsync("pull", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stderr
        assert "stored 0," in again.stdout
        synced = callsync("sync", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
        assert synced.returncode == 0, synced.stderr
        assert "route 0: ample -> close, pipedrive => close: created" in synced.stdout
        assert "=> pipedrive: created" in synced.stdout
        resynced = callsync("sync", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
        routes = [line for line in resynced.stdout.splitlines() if line.startswith("route")]
        assert routes and not [line for line in routes if "created" in line]  # nothing twice
        shown = callsync(
            "mappings",
            "show",
            "--connection",
            "ample",
            "--json",
            "--config",
            str(EXAMPLE),
            cwd=tmp_path,
            env=env,
        )
        rows = json.loads(shown.stdout)
        assert {row["source"] for row in rows} == {"account", "enum"}
        assert any(
            row["kind"] == "disposition" and row["vendor_value"] == "Interested" for row in rows
        )
    finally:
        assert stop(process) == 0
    # state kept on disk: a restarted fleet is not seeded again
    assert sorted(p.name for p in (tmp_path / "state").iterdir() if p.suffix == ".sqlite") == [
        f"{kind}.sqlite" for kind in connectors.known_kinds()
    ]
