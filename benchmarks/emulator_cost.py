"""How much of a pull is the emulator, and how much is callsync?

For every vendor kind: seed an emulator with a world of N calls, run callsync's real first pull
of that account through the connector, and split the time into the emulator's own handling and
everything else (callsync's HTTP layer, mapping, database). Done twice: in-process (httpx
transport, no sockets) and over loopback HTTP. Prints microseconds per record served.

Time spent waiting for the vendor's rate limits (pacing) is counted apart ("paced"). The
benchmarks of the engine are only meaningful if the emulator's share is small.

    python benchmarks/emulator_cost.py [--calls 20000] [--kinds close,pipedrive]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import connectors
from connectors.emulation import EmulatorTransport, World
from connectors.emulation.base import Emulator
from connectors.emulation.fleet import build_emulator
from connectors.emulation.server import serve
from syncer import logs
from syncer.config import load_config
from syncer.connections import build_connector
from syncer.http.ratelimit import PacerRegistry
from syncer.pull import pull
from syncer.store import database

ROOT = Path(__file__).resolve().parents[1]
BASE_URL_VARIABLE = {
    "amplemarket": "AMPLEMARKET_BASE_URL",
    "outreach": "OUTREACH_BASE_URL",
    "close": "CLOSE_BASE_URL",
    "pipedrive": "PIPEDRIVE_BASE_URL",
}


def _timed_handle(emulator: Emulator) -> Callable[[], float]:
    """Wrap ``emulator.handle`` to add up the time it spends; returns the reader."""
    spent = [0.0]
    original = emulator.handle

    def handle(request: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(request)
        finally:
            spent[0] += time.perf_counter() - start

    emulator.handle = handle  # type: ignore[method-assign]
    return lambda: spent[0]


def measure(kind: str, world: World, loopback: bool) -> dict[str, float]:
    emulator = build_emulator(kind, world)
    emulator_time = _timed_handle(emulator)
    workdir = Path(tempfile.mkdtemp(prefix="callsync-bench-"))
    env = {**os.environ, "CALLSYNC_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}"}
    server = serve(emulator) if loopback else None
    if server is not None:
        env[BASE_URL_VARIABLE[kind]] = server.base_url
    config = load_config(ROOT / "config.example.yaml", env=env)
    name = next(n for n, c in config.connections.items() if c.kind == kind)
    engine = database.create_engine(config.database.url)
    database.upgrade(engine)
    transport = None if loopback else EmulatorTransport(emulator)
    slept = [0.0]

    def sleep(seconds: float) -> None:
        # Waiting for the vendor's rate limit is neither side's cost: sleep, but count it.
        slept[0] += seconds
        time.sleep(seconds)

    connector = build_connector(
        config, name, engine, transport=transport, pacers=PacerRegistry(sleep=sleep), sleep=sleep
    )
    start = time.perf_counter()
    result = pull(engine, connector)
    total = time.perf_counter() - start
    connector.close()
    if server is not None:
        server.stop()
    engine.dispose()
    records = sum(s.records for s in result.streams.values()) or 1
    return {
        "records": records,
        "requests": emulator.stats.total,
        "emulator_us": emulator_time() / records * 1e6,
        "callsync_us": (total - emulator_time() - slept[0]) / records * 1e6,
        "waited_s": slept[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--kinds", default=",".join(connectors.known_kinds()))
    args = parser.parse_args()
    logs.configure("WARNING")
    world = World(seed=11, calls=args.calls)
    print(f"world of {args.calls} calls; microseconds per record served")
    header = ("kind", "mode", "records", "requests", "emulator", "callsync", "share", "paced")
    print("{:<12} {:<10} {:>8} {:>9} {:>9} {:>9} {:>6} {:>7}".format(*header))
    for kind in args.kinds.split(","):
        for loopback in (False, True):
            row = measure(kind, world, loopback)
            share = row["emulator_us"] / (row["emulator_us"] + row["callsync_us"])
            mode = "loopback" if loopback else "in-process"
            print(
                f"{kind:<12} {mode:<10} {row['records']:>8.0f} {row['requests']:>9.0f} "
                f"{row['emulator_us']:>9.1f} {row['callsync_us']:>9.1f} {share:>6.0%} "
                f"{row['waited_s']:>6.1f}s"
            )


if __name__ == "__main__":
    main()
