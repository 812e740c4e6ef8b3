"""``python -m tests.chaos --trials 1000``: many seeded trials, then one line of totals.

Each trial is independent (its own emulators, database and temp dir), so trials run a few at a
time; the callsync processes they start do the work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tests.chaos.trial import Verdict, run_trial


def run_many(
    trials: int,
    seed: int,
    calls: int,
    rounds: int,
    parallel: int,
    database_url: str | None,
    log: Path | None = None,
) -> list[Verdict]:
    """``log``: one JSON line per finished trial, so a long run cut short still has figures."""
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {
            pool.submit(_guarded_trial, seed + n, database_url, calls, rounds): seed + n
            for n in range(trials)
        }
        if log is not None:
            with log.open("a") as out:
                for future in as_completed(futures):
                    record = {"seed": futures[future], **future.result().__dict__}
                    out.write(json.dumps(record) + "\n")
                    out.flush()
        return [future.result() for future in futures]


def _guarded_trial(seed: int, database_url: str | None, calls: int, rounds: int) -> Verdict:
    """A trial whose harness itself failed (not callsync: an emulator that would not start, a
    subprocess that outlived its timeout) is counted as crashed, not allowed to end the run."""
    try:
        return run_trial(seed, database_url, calls, rounds)
    except Exception as error:  # noqa: BLE001 - counted and printed, the other trials go on
        crash = traceback.format_exception_only(type(error), error)[-1].strip()
        return Verdict(crashed=1, details=[f"harness crashed: {crash}"])


def totals(verdicts: list[Verdict]) -> str:
    dup = sum(v.duplicates + v.twin_copies for v in verdicts)
    lost = sum(v.lost for v in verdicts)
    return (
        f"{len(verdicts)} trials, {dup} duplicates, {lost} lost "
        f"({sum(v.twin_copies for v in verdicts)} beside a twin, "
        f"{sum(v.rewrites for v in verdicts)} rewrites, {sum(v.review for v in verdicts)} in review, "
        f"{sum(v.reauthorised for v in verdicts)} Outreach re-authorisations, "
        f"{sum(v.crashed for v in verdicts)} trials whose harness crashed)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL server (a database per trial)")
    parser.add_argument("--log", type=Path, help="append one JSON line per finished trial")
    args = parser.parse_args()
    started = time.monotonic()
    verdicts = run_many(
        args.trials,
        args.seed,
        args.calls,
        args.rounds,
        args.parallel,
        args.database_url,
        args.log,
    )
    for n, verdict in enumerate(verdicts):
        for line in verdict.details:
            if "refused" not in line:
                print(f"seed {args.seed + n}: {line}")
    print(f"{totals(verdicts)} in {time.monotonic() - started:.0f} s")
    bad = any(v.duplicates or v.lost or v.twin_copies or v.rewrites or v.crashed for v in verdicts)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
