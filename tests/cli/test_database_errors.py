"""A database callsync cannot use is one line naming the URL (password masked) and the cause,
never SQLAlchemy's text with the statement and its parameters (call data) (issue 9).
Exit 2 when the URL itself is wrong, 1 when the database fails at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import EXAMPLE, callsync


def _run(tmp_path: Path, url: str, *command: str) -> tuple[int, list[str]]:
    env = {"CALLSYNC_DATABASE_URL": url, "CLOSE_BASE_URL": "http://127.0.0.1:1"}
    result = callsync(*command, "--config", str(EXAMPLE), cwd=tmp_path, env=env)
    assert "Traceback" not in result.stderr and "[SQL" not in result.stderr
    assert "parameters" not in result.stderr and "sqlalche.me" not in result.stderr
    return result.returncode, result.stderr.splitlines()


def test_config_check_rejects_a_url_that_is_no_url(tmp_path):
    code, lines = _run(tmp_path, "notaurl", "config", "check")
    line = (
        EXAMPLE.read_text()
        .splitlines()
        .index("  url: ${CALLSYNC_DATABASE_URL:-sqlite:///callsync.db}")
    )
    assert code == 2
    assert lines[1].startswith(
        f"{EXAMPLE}:{line + 1}: database.url: database notaurl: not a database URL"
    )


@pytest.mark.parametrize("url", ["notaurl", "nosuch://callsync:hunter2@db/x"])
def test_a_bad_url_exits_2_before_anything_is_touched(tmp_path, url):
    code, lines = _run(tmp_path, url, "status")
    assert code == 2
    assert "database.url" in "\n".join(lines) and "hunter2" not in "\n".join(lines)


def test_a_sqlite_file_in_a_missing_directory_is_an_error_not_created(tmp_path):
    missing = tmp_path / "no" / "such"
    code, lines = _run(tmp_path, f"sqlite:///{missing}/callsync.db", "db", "upgrade")
    assert (code, len(lines)) == (2, 1)
    assert lines[0] == (
        f"error: invalid config: database sqlite:///{missing}/callsync.db: "
        f"the directory {missing} does not exist (callsync does not create it)"
    )
    assert not (tmp_path / "no").exists()


def test_a_directory_is_not_a_database_file(tmp_path):
    code, lines = _run(tmp_path, f"sqlite:///{tmp_path}", "status")
    assert (code, len(lines)) == (2, 1)
    assert lines[0].endswith(f"{tmp_path} is a directory, not a database file")


def test_an_unreachable_server_exits_1_with_the_password_masked(tmp_path):
    code, lines = _run(tmp_path, "postgresql+psycopg://callsync:hunter2@127.0.0.1:1/x", "status")
    assert (code, len(lines)) == (1, 1)
    assert lines[0].startswith("error: database postgresql+psycopg://callsync:***@127.0.0.1:1/x: ")
    assert "Connection refused" in lines[0]


def test_a_database_that_refuses_writes_exits_1_without_sql_or_call_data(tmp_path):
    database = tmp_path / "callsync.db"
    code, _ = _run(tmp_path, f"sqlite:///{database}", "db", "upgrade")
    assert code == 0
    # Read-only through the driver, so the check holds when the tests run as root too.
    read_only = f"sqlite:///file:{database}?mode=ro&uri=true"
    code, lines = _run(tmp_path, read_only, "pull", "--connection", "close")
    assert code == 1
    assert lines == [
        f"error: database sqlite:///file%3A{database}?mode=ro&uri=true: "
        "attempt to write a readonly database"
    ]


def test_an_unknown_log_level_exits_2_with_the_allowed_values(tmp_path):
    result = callsync("--log-level", "BOGUS", "status", "--config", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'BOGUS' is not one of" in result.stderr
    for level in ("debug", "info", "warning", "error", "critical"):
        assert level in result.stderr.lower()
