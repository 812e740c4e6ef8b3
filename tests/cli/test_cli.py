"""The installed ``callsync`` command, run as a user would, from an empty directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fleet import EXAMPLE

CALLSYNC = Path(sys.executable).parent / "callsync"


def callsync(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CALLSYNC_", "CLOSE_", "PIPEDRIVE_", "OUTREACH_", "AMPLEMARKET_"))
    }
    return subprocess.run(
        [str(CALLSYNC), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version_and_help(tmp_path):
    assert callsync("--version", cwd=tmp_path).stdout.startswith("callsync, version ")
    help_text = callsync("--help", cwd=tmp_path).stdout
    for command in ("config", "db", "status"):
        assert command in help_text


def test_config_check_ok(tmp_path):
    result = callsync("config", "check", "--config", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok (4 connections, 2 routes)" in result.stdout


@pytest.mark.parametrize("command", [("config", "check"), ("db", "upgrade"), ("status",)])
def test_bad_config_exits_2_and_touches_nothing(tmp_path, command):
    config = tmp_path / "bad.yaml"
    config.write_text(EXAMPLE.read_text().replace("kind: close", "kind: closed"))
    result = callsync(*command, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{config}:" in result.stderr and "connections.close.kind" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "callsync.db").exists()


def test_missing_config_file_exits_2(tmp_path):
    result = callsync("status", cwd=tmp_path)
    assert result.returncode == 2
    assert "callsync.yaml: cannot read config file" in result.stderr


def test_db_upgrade_then_status(tmp_path, database_url):
    env = {"CALLSYNC_DATABASE_URL": database_url}
    upgraded = callsync("db", "upgrade", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database at revision" in upgraded.stdout
    table = callsync("status", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
    assert table.returncode == 0, table.stderr
    assert "callsync status" in table.stdout and "never read" in table.stdout
    report = json.loads(
        callsync("status", "--json", "--config", str(EXAMPLE), cwd=tmp_path, env=env).stdout
    )
    assert [c["name"] for c in report["connections"]] == ["ample", "outreach", "close", "pipedrive"]
    assert all(c["quarantined"] == 0 for c in report["connections"])


def test_default_database_is_sqlite_in_the_working_directory(tmp_path):
    result = callsync("db", "upgrade", "--config", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "callsync.db"
    assert database.exists()
    assert database.stat().st_mode & 0o077 == 0  # it holds OAuth tokens: owner-only


def test_runtime_failure_exits_1(tmp_path):
    env = {"CALLSYNC_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = callsync("db", "upgrade", "--config", str(EXAMPLE), cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
