"""The throughput benchmark as CI's smoke test: a small run must finish and print (no timing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import results_file  # noqa: E402

from tests.conftest import BACKENDS, PG_URL  # noqa: E402


@pytest.mark.slow
def test_a_small_run_prints_both_clients_and_writes_its_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Push\n\npush figures\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--calls", "2000"]
    command += ["--kinds", "close", "--results", str(results)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    floor = next(line for line in lines if "close" in line and " floor " in line)
    callsync = next(line for line in lines if "close" in line and " callsync " in line)
    assert "2000 calls" in floor and "2000 calls" in callsync
    assert "idle poll" in callsync and "ERROR" not in callsync
    written = results.read_text()
    assert "## Push\n\npush figures" in written  # another benchmark's section is left alone
    assert "## Pull\n" in written and "| close | 1 | callsync | 2,000 |" in written


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not among the test backends")
def test_a_small_run_on_postgresql_prints_both_clients(postgres_database: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CALLSYNC_BENCH_PG_URL": PG_URL}
    command = [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--calls", "1000"]
    command += ["--kinds", "close", "--database", "postgresql", "--no-results"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    callsync = next(line for line in done.stdout.splitlines() if " callsync " in line)
    assert "1000 calls" in callsync and "ERROR" not in callsync


def test_a_section_is_replaced_in_place_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\n## Pull\n\nold pull\n\n## Push\n\npush\n")
    results_file.replace_section(path, "Pull", "new pull")
    assert path.read_text() == "# Results\n\n## Pull\n\nnew pull\n\n## Push\n\npush\n"
    results_file.replace_section(path, "Pull (PostgreSQL)", "pg")
    assert path.read_text().endswith("## Push\n\npush\n\n## Pull (PostgreSQL)\n\npg\n")
    results_file.replace_section(path, "Push", "push 2")
    assert (
        path.read_text().count("## ") == 3 and "push 2\n\n## Pull (PostgreSQL)" in path.read_text()
    )
