"""The push benchmark as CI's smoke test: a small run must finish, print and write its section
(no timing: the figures are for ``benchmarks/RESULTS.md``, not for a test to judge)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_small_push_run_prints_cold_and_warm_and_writes_its_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Pull\n\npull figures\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "benchmarks" / "push_throughput.py"), "--calls", "60"]
    command += ["--kinds", "close", "--results", str(results)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.lstrip().startswith("close")]
    assert any("cold" in line for line in lines) and any("warm" in line for line in lines)
    assert "peak RSS" in done.stdout
    written = results.read_text()
    assert "## Pull\n\npull figures" in written  # another benchmark's section is left alone
    assert "## Push\n" in written and "| close |" in written
