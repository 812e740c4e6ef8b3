"""The README is the user's guide: its YAML must load and its commands must exist.

Each ```yaml block of the README is laid over ``config.example.yaml`` (a snippet's connections
replace the example's of the same name, its other top-level keys replace the example's) and
loaded through the real config loader, so a snippet with a wrong key, a bad value or a route to
nowhere fails here and not on a user's machine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from syncer.cli import main
from syncer.config import load_config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
VARIABLE = re.compile(r"\$\{(\w+)\}")  # no fallback: must be set


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README) if lang == language]


def _laid_over_example(snippet: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    for key, value in snippet.items():
        if key == "connections":
            merged["connections"] = {**merged["connections"], **value}
        else:
            merged[key] = value
    return merged


def test_the_readme_has_yaml_snippets():
    assert len(_blocks("yaml")) >= 3


@pytest.mark.parametrize("index", range(len(_blocks("yaml"))))
def test_every_yaml_snippet_loads_through_the_config_loader(tmp_path, index):
    snippet = _blocks("yaml")[index]
    parsed = yaml.safe_load(snippet)
    assert isinstance(parsed, dict), f"snippet {index} is not a mapping:\n{snippet}"
    path = tmp_path / "callsync.yaml"
    path.write_text(yaml.safe_dump(_laid_over_example(parsed), sort_keys=False))
    env = dict.fromkeys(VARIABLE.findall(path.read_text()), "set-in-the-environment")
    config = load_config(path, env=env)
    for name in parsed.get("connections", {}):
        assert name in config.connections


def _table_commands() -> list[list[str]]:
    """Each row of the "Commands" table as command words (alternatives ``a|b`` expanded)."""
    section = README[README.index("## Commands") :]
    section = section[: section.index("\n## ", 1)]
    commands: list[list[str]] = []
    for cell in re.findall(r"^\| `callsync ([^`]+)`", section, re.MULTILINE):
        words = re.findall(r"^[a-z][a-z\\|-]*(?: [a-z][a-z\\|-]*)*", cell)[0].split()
        *group, last = words
        commands += [[*group, alternative] for alternative in last.split("\\|")]
    return commands


def _bash_commands() -> list[list[str]]:
    """The subcommand words of every ``callsync ...`` line in the README's bash blocks."""
    found = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            if line.startswith("callsync "):
                found.append(re.findall(r"^callsync ((?:[a-z][a-z-]* ?)+)", line)[0].split())
    return found


def test_the_command_table_lists_the_commands_a_user_needs():
    listed = {words[0] for words in _table_commands()}
    assert {"demo", "sync", "backfill", "run", "status", "report", "writes"} <= listed


@pytest.mark.parametrize("words", _table_commands() + _bash_commands(), ids=" ".join)
def test_every_readme_command_exists_and_its_help_works(words):
    found = CliRunner().invoke(main, [*_strip_arguments(words), "--help"])
    assert found.exit_code == 0, found.output
    assert "Usage: " in found.output


def _strip_arguments(words: list[str]) -> list[str]:
    """Command words only: stop at the first word that is not a (sub)command of the one before."""
    kept: list[str] = []
    group: Any = main
    for word in words:
        commands = getattr(group, "commands", None)
        if commands is None:
            break
        assert word in commands, f"`callsync {' '.join([*kept, word])}` does not exist"
        kept.append(word)
        group = commands[word]
    return kept
