"""``callsync status`` read by a person (issue 9): every waiting write with its reason in the
table, cursors as the time read up to (no internal keys, nothing cut off), and per connection
how its last pull and its last push ended, with the error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from syncer import status
from syncer.config import RouteConfig, load_config
from syncer.push_route import push_route
from syncer.store import database, ledger, repo, runs
from tests.cli.test_cli import callsync
from tests.engine.test_push import make_call, store

CONFIG = "database:\n  url: {url}\nconnections:\n  dst:\n    kind: close\n    api_key: k\n"
LONG_REASON = "no Close person with +14155550100 or a-rather-long-address@example.com " * 2


def _ledger_row(conn, n: int, state: str, reason: str, **values) -> None:
    row = {"call_uid": make_call(n).call_uid, "target_connection": "dst", "state": state}
    conn.execute(sa.insert(ledger.links_t).values(marker=f"m{n}", reason=reason, **row, **values))


def _prepare(tmp_path):
    url = f"sqlite:///{tmp_path / 'callsync.db'}"
    engine = database.create_engine(url)
    database.upgrade(engine)
    store(engine, *(make_call(n) for n in range(4)))
    later = datetime.now(UTC) + timedelta(hours=1)
    with engine.begin() as conn:
        _ledger_row(conn, 0, ledger.IN_DOUBT, "close timed out after sending")
        _ledger_row(conn, 1, ledger.NEEDS_REVIEW, "3 records look alike")
        _ledger_row(conn, 2, ledger.FAILED, "close answered 422", next_attempt_at=later)
        _ledger_row(conn, 3, ledger.PARKED, LONG_REASON.strip())
        cursor = {"v": 1, "through": "2026-11-30T09:15:00+00:00", "seen": {"ev_1": 1, "ev_2": 2}}
        repo.save_cursor(conn, "dst", "calls", completed=cursor)
        run = runs.start_run(conn, "dst", "pull")
        runs.finish_run(conn, run, "aborted", {}, "close answered 503: try later")
    route = RouteConfig(source="src", targets=["dst"])
    push_route(engine, route, {"dst": None}, deferred={"dst": "close unreachable"})  # type: ignore[dict-item]
    engine.dispose()
    config = tmp_path / "callsync.yaml"
    config.write_text(CONFIG.format(url=url))
    return config


def _cells(table) -> dict[str, list[str]]:
    return {str(column.header): [str(cell) for cell in column.cells] for column in table.columns}


def test_status_table_is_readable_by_a_person(tmp_path):
    config = _prepare(tmp_path)
    out = _status(tmp_path, config)
    assert "…" not in out  # nothing cut off
    loaded = load_config(config)
    engine = database.create_engine(loaded.database.url)
    report = status.collect(engine, loaded)
    engine.dispose()
    main, waiting = _cells(status.as_table(report)), _cells(status.waiting_table(report))
    assert main["cursors"] == ["calls: read up to 2026-11-30 09:15:00 UTC"]  # no v, no seen
    last_run = main["last run"][0]
    assert "pull aborted at" in last_run and "close answered 503: try later" in last_run
    assert "push deferred at" in last_run and "close unreachable" in last_run
    assert main["writes in"] == ["failed 1, in doubt 1, needs review 1, parked 1\n1 backing off"]
    rows = sorted(zip(waiting["state"], waiting["next attempt"], waiting["reason"], strict=True))
    assert [(state, reason) for state, _, reason in rows] == [
        ("failed", "close answered 422"),
        ("in doubt", "close timed out after sending"),
        ("needs review", "3 records look alike"),
        ("parked", LONG_REASON.strip()),
    ]
    assert rows[0][1].startswith("backing off until ") and rows[2][1] == "needs a person"
    for text in ("close timed out after sending", "3 records look alike", "2026-11-30 09:15:00"):
        assert text in out


def _status(tmp_path, config, *flags: str) -> str:
    # A separate process: the CLI configures logging for the whole interpreter.
    result = callsync("status", *flags, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_status_json_has_each_kind_of_last_run(tmp_path):
    config = _prepare(tmp_path)
    entry = json.loads(_status(tmp_path, config, "--json"))["connections"][0]
    assert entry["last_runs"]["pull"]["error"] == "close answered 503: try later"
    assert entry["last_runs"]["push"]["status"] == "deferred"
    assert entry["last_run"]["kind"] == "push"
    assert entry["cursors"][0]["completed"]["seen"] == {"ev_1": 1, "ev_2": 2}  # JSON keeps all
