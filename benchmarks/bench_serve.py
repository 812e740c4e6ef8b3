"""One vendor emulator, seeded and served on loopback in a process of its own.

``python benchmarks/bench_serve.py KIND --calls N [--seed S]`` seeds the emulator of KIND with
a world of N calls, rate limits lifted and (Close) the event log off, serves it on a free port
of 127.0.0.1, prints its base URL on one line and serves until its stdin closes. The benchmark
starts it through :func:`start`, so the emulator's CPU is never the measured client's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
UNLIMITED = 10**9
REFRESH_TOKENS = 64  # Outreach refresh tokens made valid: one per client run


def refresh_token(number: int) -> str:
    """The Outreach refresh token of the ``number``-th client run (see :func:`_serve`)."""
    return f"bench-refresh-{number}"


def emulator_options(kind: str) -> dict[str, Any]:
    """Constructor keywords that lift ``kind``'s rate limits (and Close's event log)."""
    if kind == "close":
        from connectors.close.emulator import CloseEmulator

        limits = dict.fromkeys(CloseEmulator.DEFAULT_RATE_LIMITS, UNLIMITED)
        return {"rate_limits": limits, "seed_events": False}
    if kind == "amplemarket":
        return {"requests_per_minute": UNLIMITED}
    if kind == "outreach":
        return {"rate_limit": UNLIMITED, "token_mint_interval": 0, "dual_remaining_every": 0}
    if kind == "pipedrive":
        return {
            "daily_budget": UNLIMITED,
            "burst_limit": UNLIMITED,
            "search_burst_limit": UNLIMITED,
            "hammer_limit": None,
            "daily_headers_missing_every": 0,
        }
    raise ValueError(f"no emulator options for {kind!r}")


def _serve(kind: str, calls: int, seed: int) -> None:
    import connectors
    from connectors.emulation.server import serve
    from connectors.emulation.world import World

    emulator = connectors.emulator_class(kind)(**emulator_options(kind))
    emulator.seed_world(World(seed=seed, calls=calls, systems=(kind,)))
    if kind == "outreach":  # every client spends a refresh token of its own (they rotate)
        for number in range(REFRESH_TOKENS):
            emulator.reauthorise(refresh_token(number))
    running = serve(emulator)
    print(running.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes the pipe
    running.stop()


@dataclass
class Served:
    kind: str
    base_url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def start(kind: str, calls: int, seed: int) -> Served:
    """Seed and serve ``kind`` in a child process; returns once it answers."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), kind, "--calls", str(calls), "--seed", str(seed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("http"):
        process.kill()
        raise RuntimeError(f"the {kind} emulator did not start")
    return Served(kind, line, process)


def child_env() -> dict[str, str]:
    """The environment of a child process: this checkout first on its import path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    _serve(args.kind, args.calls, args.seed)


if __name__ == "__main__":
    main()
