"""Config loading: every bad input names the file, the line and the field path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from syncer.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

VALID = """\
database:
  url: sqlite:///x.db
connections:
  close:
    kind: close
    api_key: ${CLOSE_KEY}
  pd:
    kind: pipedrive
    api_token: ${PD_TOKEN:-fallback-token}
    every: 90s
routes:
  - from: close
    to: [pd]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callsync.yaml"
    path.write_text(text)
    return path


def problem(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={"CLOSE_KEY": "k"} if env is None else env)
    return str(caught.value)


def test_example_config_is_valid_without_any_environment():
    config = load_config(ROOT / "config.example.yaml", env={})
    assert set(config.connections) == {"ample", "outreach", "close", "pipedrive"}
    assert config.routes[0].source == "ample"
    assert config.every("outreach") == timedelta(minutes=10)
    assert config.every("close") == timedelta(minutes=5)


def test_interpolation_defaults_and_secrets(tmp_path):
    config = load_config(write(tmp_path, VALID), env={"CLOSE_KEY": "s3cret-close-key"})
    close = config.connections["close"].settings
    assert close.api_key.get_secret_value() == "s3cret-close-key"  # type: ignore[attr-defined]
    assert "s3cret" not in repr(close) and "s3cret" not in repr(config)
    pd = config.connections["pd"].settings
    assert pd.api_token.get_secret_value() == "fallback-token"  # type: ignore[attr-defined]
    assert config.every("pd") == timedelta(seconds=90)


def test_dollar_dollar_is_a_literal_dollar(tmp_path):
    text = VALID.replace("${CLOSE_KEY}", "pa$$word")
    config = load_config(write(tmp_path, text), env={})
    assert config.connections["close"].settings.api_key.get_secret_value() == "pa$word"  # type: ignore[attr-defined]


def test_missing_variable(tmp_path):
    message = problem(tmp_path, VALID, env={})
    assert message == (
        f"{tmp_path / 'callsync.yaml'}:6: connections.close.api_key: "
        "environment variable CLOSE_KEY is not set"
    )


def test_malformed_yaml(tmp_path):
    message = problem(tmp_path, VALID.replace("to: [pd]", "to: [pd"))
    assert "callsync.yaml:" in message and "invalid YAML" in message


def test_unknown_top_level_key(tmp_path):
    message = problem(tmp_path, VALID + "scheduel:\n  default_every: 5m\n")
    assert message.endswith("callsync.yaml:14: scheduel: unknown key")


def test_unknown_vendor_key_names_its_line(tmp_path):
    message = problem(tmp_path, VALID.replace("    every: 90s", "    evry: 90s"))
    assert message.endswith("callsync.yaml:10: connections.pd.evry: unknown key")


def test_missing_credential(tmp_path):
    message = problem(tmp_path, VALID.replace("    api_key: ${CLOSE_KEY}\n", ""))
    assert "callsync.yaml:4: connections.close.api_key: Field required" in message


def test_route_to_unknown_connection(tmp_path):
    message = problem(tmp_path, VALID.replace("to: [pd]", "to: [pd, hubspot]"))
    assert message.endswith("callsync.yaml:13: routes[0].to: unknown connection 'hubspot'")


def test_unknown_kind(tmp_path):
    message = problem(tmp_path, VALID.replace("kind: pipedrive", "kind: salesforce"))
    assert "callsync.yaml:8: connections.pd.kind: unknown connector kind 'salesforce'" in message


def test_bad_interval(tmp_path):
    message = problem(tmp_path, VALID.replace("every: 90s", "every: soon"))
    assert "callsync.yaml:10: connections.pd.every:" in message and "30s, 5m" in message


def test_duplicate_key(tmp_path):
    message = problem(tmp_path, VALID.replace("    every: 90s", "    every: 90s\n    every: 1m"))
    assert "callsync.yaml:11: connections.pd.every: duplicate key" in message


def test_route_to_itself(tmp_path):
    message = problem(tmp_path, VALID.replace("to: [pd]", "to: [close]"))
    assert "routes[0]" in message and "itself" in message


def test_every_problem_is_reported(tmp_path):
    text = VALID.replace("kind: pipedrive", "kind: salesforce").replace("to: [pd]", "to: [nope]")
    assert len(problem(tmp_path, text).splitlines()) == 2


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml", env={})


def test_bad_mapping_override(tmp_path):
    text = VALID.replace(
        "    every: 90s",
        "    every: 90s\n    mapping:\n      outcome_by_disposition:\n        Odd: teleported",
    )
    message = problem(tmp_path, text)
    assert "callsync.yaml:13: connections.pd.mapping.outcome_by_disposition.Odd: " in message


def test_an_override_adding_a_vendor_value_is_valid(tmp_path):
    text = VALID.replace(
        "    api_key: ${CLOSE_KEY}",
        "    api_key: ${CLOSE_KEY}\n    mapping:\n      outcome:\n        read:\n"
        "          teleported: connected",
    )
    config = load_config(write(tmp_path, text), env={"CLOSE_KEY": "k"})
    assert config.connections["close"].mapping is not None


def test_an_unknown_canonical_target_names_its_own_line(tmp_path):
    text = VALID.replace(
        "    api_key: ${CLOSE_KEY}",
        "    api_key: ${CLOSE_KEY}\n    mapping:\n      outcome:\n        read:\n"
        "          answered: connected\n          teleported: beamed",
    )
    message = problem(tmp_path, text)
    assert "callsync.yaml:11: connections.close.mapping.outcome.read.teleported: " in message
    assert "'beamed' is not a canonical Outcome" in message


def test_example_fallbacks_are_the_emulators_demo_credentials():
    """`callsync emulators` + the example config must work with no environment at all."""
    import connectors

    config = load_config(ROOT / "config.example.yaml", env={})
    secrets = {
        name: {k: v.get_secret_value() for k, v in conn.settings if hasattr(v, "get_secret_value")}
        for name, conn in config.connections.items()
    }
    emulators = {kind: connectors.emulator_class(kind) for kind in connectors.known_kinds()}
    assert secrets["ample"]["api_key"] == emulators["amplemarket"].DEMO_API_KEY
    assert secrets["close"]["api_key"] == emulators["close"].DEMO_API_KEY
    assert secrets["pipedrive"]["api_token"] == emulators["pipedrive"].DEMO_API_TOKEN
    assert secrets["outreach"]["client_secret"] == emulators["outreach"].DEMO_CLIENT_SECRET
    assert secrets["outreach"]["refresh_token"] == emulators["outreach"].DEMO_REFRESH_TOKEN


def test_example_documents_every_option():
    """Every key a connection or the engine accepts is named in config.example.yaml."""
    import connectors
    from syncer.config import (
        CallsyncConfig,
        ConnectionConfig,
        DefaultsConfig,
        MatchingConfig,
        RouteFilters,
        RouteWrite,
        ScheduleConfig,
    )

    text = (ROOT / "config.example.yaml").read_text()
    names = set(CallsyncConfig.model_fields) - {"source_file"}
    names |= set(ConnectionConfig.model_fields) - {"vendor_keys"}
    names |= set(DefaultsConfig.model_fields) | set(RouteFilters.model_fields)
    names |= set(MatchingConfig.model_fields) | set(RouteWrite.model_fields)
    names |= set(ScheduleConfig.model_fields)
    for kind in connectors.known_kinds():
        names |= set(connectors.settings_model(kind).model_fields)
    missing = sorted(name for name in names if f"{name}:" not in text)
    assert missing == []


def test_a_secret_says_where_it_comes_from_without_its_value():
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    config = load_config(example, env={})
    origin = config.connections["outreach"].origin("refresh_token")
    assert origin == (
        f"${{OUTREACH_REFRESH_TOKEN}} (connections.outreach.refresh_token in {example})"
    )
    assert config.connections["close"].origin("outreach") is None


def test_every_missing_variable_is_reported_in_file_order(tmp_path):
    text = VALID.replace("sqlite:///x.db", "${DB_URL}").replace(
        "${PD_TOKEN:-fallback-token}", "${PD_TOKEN}"
    )
    file = tmp_path / "callsync.yaml"
    assert problem(tmp_path, text, env={}).splitlines() == [
        f"{file}:2: database.url: environment variable DB_URL is not set",
        f"{file}:6: connections.close.api_key: environment variable CLOSE_KEY is not set",
        f"{file}:9: connections.pd.api_token: environment variable PD_TOKEN is not set",
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "not a database URL"),
        ("postgresql://callsync:hunter2@db:port/x", "not a database URL"),
        ("mysql://callsync:hunter2@db/x", "unsupported database 'mysql'"),
        ("oracle+nosuch://db/x", "unsupported database 'oracle'"),
        ("postgresql+nosuch://db/x", "unknown driver 'postgresql+nosuch'"),
        ("postgresql+asyncpg://db/x", "driver 'postgresql+asyncpg'"),
    ],
)
def test_database_url_is_checked_with_file_line_and_field(tmp_path, url, reason):
    message = problem(tmp_path, VALID.replace("sqlite:///x.db", url))
    assert message.startswith(f"{tmp_path / 'callsync.yaml'}:2: database.url: database ")
    assert reason in message and "hunter2" not in message
    assert len(message.splitlines()) == 1


def test_database_url_shape_only_no_file_system_look(tmp_path):
    text = VALID.replace("sqlite:///x.db", "sqlite:////no/such/dir/x.db")
    config = load_config(write(tmp_path, text), env={"CLOSE_KEY": "k"})
    assert config.database.url == "sqlite:////no/such/dir/x.db"
