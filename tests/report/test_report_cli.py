"""``callsync report`` as a user runs it: ``--json`` parses and is the report; bad dates and
an unknown ``--route`` exit 2 before the database is touched; ``--html`` writes the page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syncer.report import build_report
from syncer.store import database, ledger
from tests.cli.test_cli import EXAMPLE, callsync
from tests.report.store import example_config, make_call, settled, store, written


def _prepared(database_url: str) -> None:
    engine = database.create_engine(database_url)
    database.upgrade(engine)
    calls = [make_call(n) for n in range(3)]
    store(engine, *calls)
    written(engine, calls[0], "close", "c0")
    settled(engine, calls[1], "close", ledger.PARKED, "no Close person")
    engine.dispose()


def test_json_is_the_report(tmp_path, database_url):
    _prepared(database_url)
    env = {"CALLSYNC_DATABASE_URL": database_url}
    args = ("report", "--json", "--config", str(EXAMPLE), "--since", "2026-03-01")
    result = callsync(*args, "--until", "2026-04-01T00:00:00+00:00", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert (printed["since"], printed["until"]) == (
        "2026-03-01T00:00:00+00:00",
        "2026-04-01T00:00:00+00:00",
    )
    engine = database.create_engine(database_url)
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    expected = build_report(engine, example_config(), since=since, until=until).to_dict()
    engine.dispose()
    assert printed["routes"] == expected["routes"]
    assert printed["tools"] == expected["tools"]
    [close] = [t for t in printed["routes"][0]["targets"] if t["target"] == "close"]
    parked = {m["reason"]: m["count"] for m in close["missing"]}["parked"]
    assert (close["written"], parked) == (1, 1)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--since", "last tuesday"), "--since: 'last tuesday' is not a date"),
        (("--until", "2026-13-01"), "--until: '2026-13-01' is not a date"),
        (("--since", "2026-02-01", "--until", "2026-01-01"), "must be after since"),
        (("--route", "nowhere"), "unknown connection: nowhere"),
    ],
)
def test_bad_input_exits_2_and_touches_nothing(tmp_path, flags, says):
    db = tmp_path / "callsync.db"
    env = {"CALLSYNC_DATABASE_URL": f"sqlite:///{db}"}
    result = callsync("report", "--config", str(EXAMPLE), *flags, cwd=tmp_path, env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert says in result.stderr
    assert not db.exists()


def test_html_is_written_beside_the_tables(tmp_path):
    env = {"CALLSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'callsync.db'}"}
    page = tmp_path / "report.html"
    args = ("report", "--config", str(EXAMPLE), "--html", str(page))
    result = callsync(*args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "route ample -> close, pipedrive: 0 of 0 calls in every target" in result.stdout
    assert f"wrote {page}" in result.stdout
    assert page.read_text().startswith("<!DOCTYPE html>")
