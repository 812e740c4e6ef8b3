"""The crash-and-fault harness in CI: seeded trials of `callsync sync` processes killed at random
moments (sometimes two at once) while the emulators inject 429s, 5xx, dropped connections and
answers lost after a commit. Every target must end with each routed call exactly once.

``CALLSYNC_CHAOS_TRIALS`` sets the SQLite trial count (30 by default);
``python -m tests.chaos --trials 1000`` is the long version.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.__main__ import run_many, totals
from tests.chaos.trial import run_overlapping
from tests.conftest import BACKENDS, PG_URL

TRIALS = int(os.environ.get("CALLSYNC_CHAOS_TRIALS", "30"))
# A trial mostly waits (on killed runs, retries, pacing): many run side by side on two cores.
PARALLEL = int(os.environ.get("CALLSYNC_CHAOS_PARALLEL", "10"))


def _assert_exactly_once(verdicts) -> None:
    problems = [line for v in verdicts for line in v.details if "refused" not in line]
    summary = totals(verdicts)
    assert sum(v.duplicates + v.twin_copies for v in verdicts) == 0, (summary, problems)
    assert sum(v.lost for v in verdicts) == 0, (summary, problems)
    assert sum(v.rewrites for v in verdicts) == 0, (summary, problems)
    assert sum(v.crashed for v in verdicts) == 0, (summary, problems)


@pytest.mark.slow
@pytest.mark.skipif("sqlite" not in BACKENDS, reason="SQLite not among the test backends")
def test_kills_and_faults_leave_every_call_exactly_once_on_sqlite():
    _assert_exactly_once(
        run_many(TRIALS, seed=1000, calls=30, rounds=2, parallel=PARALLEL, database_url=None)
    )


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not among the test backends")
def test_kills_and_faults_leave_every_call_exactly_once_on_postgresql(postgres_database):
    trials = max(2, TRIALS // 5)
    _assert_exactly_once(
        run_many(trials, seed=2000, calls=30, rounds=2, parallel=PARALLEL, database_url=PG_URL)
    )


@pytest.mark.parametrize("processes", [2, 3])
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_syncs_started_at_the_same_moment_write_each_call_once(backend, processes, request):
    if backend not in BACKENDS:
        pytest.skip(f"{backend} not among the test backends")
    server = None
    if backend == "postgresql":
        request.getfixturevalue("postgres_database")  # skips when no server answers
        server = PG_URL
    verdict = run_overlapping(seed=3000 + processes, processes=processes, server_url=server)
    assert (verdict.duplicates, verdict.twin_copies, verdict.lost) == (0, 0, 0), verdict.details
    assert not [line for line in verdict.details if "exited" in line], verdict.details
