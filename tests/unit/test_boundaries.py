"""The engine reaches vendor code only through the connector registry."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import connectors

ROOT = Path(__file__).resolve().parents[2]
VENDORS = tuple(connectors.known_kinds())


def test_importing_the_engine_loads_no_vendor_module():
    code = (
        "import sys, syncer.cli, syncer.pull, syncer.connections, syncer.config, syncer.status\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in {VENDORS!r} "
        "and m.startswith('connectors.')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_no_syncer_module_names_a_vendor_package():
    offenders = []
    for path in (ROOT / "syncer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[:2][-1] in VENDORS]
    assert offenders == []


def test_the_planner_does_no_io():
    """The planner and the conflict policy are pure: no database, network or file access."""
    code = (
        "import sys, syncer.planner\n"
        "print(sorted(m for m in ('sqlalchemy', 'httpx', 'syncer.store') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
