"""``callsync quarantine list|retry`` against records a Close pull quarantined, with the
connection pointed at that Close account served over HTTP (to count what it is asked)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from connectors.close.emulator import CloseEmulator
from connectors.emulation.server import serve
from syncer import mapping
from syncer.cli import main
from syncer.store import database
from tests.connectors.close.harness import NAME
from tests.engine.quarantine_world import (
    BROKEN,
    TELEPORTED,
    UNKNOWN,
    mappings_knowing,
    open_rows,
    quarantined_world,
    stored_call,
)


@pytest.fixture
def setup(database_url, tmp_path):
    """(config path, harness): a store with TELEPORTED and BROKEN quarantined."""
    engine = database.create_engine(database_url)
    database.upgrade(engine)
    harness = quarantined_world(engine)
    engine.dispose()
    server = serve(harness.emulator)
    config = tmp_path / "callsync.yaml"
    config.write_text(
        f"database:\n  url: {database_url}\n"
        f"connections:\n  {NAME}:\n    kind: close\n"
        f"    api_key: {CloseEmulator.DEMO_API_KEY}\n    base_url: {server.base_url}\n"
        "  other:\n    kind: pipedrive\n    api_token: t0k\n    company_domain: acme\n"
    )
    harness.emulator.stats.reset()
    yield config, harness
    server.stop()


def invoke(*args: str):
    return CliRunner().invoke(main, ["quarantine", *args])


def test_list_json_parses_and_filters(setup):
    config, _ = setup
    listed = invoke("list", "--config", str(config), "--json")
    assert listed.exit_code == 0, listed.output
    rows = {row["record_key"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {TELEPORTED, BROKEN}
    assert rows[TELEPORTED]["connection"] == NAME and rows[TELEPORTED]["stream"] == "calls"
    assert UNKNOWN in rows[TELEPORTED]["reason"] and rows[TELEPORTED]["attempts"] == 1
    assert rows[TELEPORTED]["first_seen_at"] <= rows[TELEPORTED]["last_seen_at"]
    by_reason = invoke("list", "--config", str(config), "--json", "--reason", "Teleported")
    assert [row["record_key"] for row in json.loads(by_reason.stdout)] == [TELEPORTED]
    other = invoke("list", "--config", str(config), "--json", "--connection", "other")
    assert json.loads(other.stdout) == []
    text = invoke("list", "--config", str(config))
    assert text.exit_code == 0 and "2 quarantined record(s)" in text.stdout
    unknown = invoke("list", "--config", str(config), "--connection", "nope")
    assert unknown.exit_code == 2


def test_retry_maps_with_the_current_tables_and_asks_no_vendor(setup, tmp_path, monkeypatch):
    config, harness = setup
    directory = mappings_knowing(tmp_path / "mappings", "close", "outcome", UNKNOWN, "connected")
    monkeypatch.setattr(mapping, "mappings_dir", lambda: directory)

    only_other = invoke("retry", "--config", str(config), "--connection", "other", "--json")
    assert json.loads(only_other.stdout) == [
        {"connection": "other", "retried": 0, "mapped": 0, "still_quarantined": {}, "busy": None}
    ]
    retried = invoke("retry", "--config", str(config), "--connection", NAME)

    assert retried.exit_code == 0, retried.output
    assert f"{NAME}: retried 2, mapped 1, still quarantined 1" in retried.stdout
    assert "duration" in retried.stdout  # the reason the other one is still quarantined for
    assert harness.emulator.stats.total == 0
    engine = database.create_engine(_url(config))
    try:
        assert {key: row.attempts for key, row in open_rows(engine).items()} == {BROKEN: 2}
    finally:
        engine.dispose()
    again = invoke("retry", "--config", str(config), "--json", "--reason", "duration")
    results = {result["connection"]: result for result in json.loads(again.stdout)}
    assert (results[NAME]["retried"], results[NAME]["mapped"]) == (1, 0)
    assert harness.emulator.stats.total == 0


def test_retry_maps_a_value_the_config_override_adds_and_asks_no_vendor(setup):
    """The shipped mapping never learns the value: the team adds it under ``mapping:``."""
    config, harness = setup
    before = invoke("retry", "--config", str(config), "--connection", NAME)
    assert f"{NAME}: retried 2, mapped 0, still quarantined 2" in before.stdout
    text = config.read_text().replace(
        "    kind: close\n",
        f"    kind: close\n    mapping:\n      outcome:\n        read:\n          {UNKNOWN}: connected\n",
    )
    config.write_text(text)
    assert invoke_config_check(config).exit_code == 0

    retried = invoke("retry", "--config", str(config), "--connection", NAME)

    assert retried.exit_code == 0, retried.output
    assert f"{NAME}: retried 2, mapped 1, still quarantined 1" in retried.stdout
    assert harness.emulator.stats.total == 0
    engine = database.create_engine(_url(config))
    try:
        assert set(open_rows(engine)) == {BROKEN}
        assert stored_call(engine, TELEPORTED) is not None
    finally:
        engine.dispose()


def invoke_config_check(config):
    return CliRunner().invoke(main, ["config", "check", "--config", str(config)])


def _url(config) -> str:
    return next(
        line.split("url: ", 1)[1] for line in config.read_text().splitlines() if "url: " in line
    )
