"""The measured callsync client: a real ``pull`` of one connection into a fresh store.

``python benchmarks/bench_callsync.py KIND BASE_URL DATABASE_URL`` pulls the connection of
KIND of ``config.example.yaml`` (pointed at BASE_URL) into DATABASE_URL the way ``callsync
sync`` does (``open_migrated``, ``build_connector``, ``pull``), with callsync's own pacing
lifted as the emulator's limits are; then pulls again with nothing new (the idle poll). Prints
one JSON line: records, requests and wall seconds of each pull, and the process's own CPU.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_URL_VARIABLE = {
    "amplemarket": "AMPLEMARKET_BASE_URL",
    "outreach": "OUTREACH_BASE_URL",
    "close": "CLOSE_BASE_URL",
    "pipedrive": "PIPEDRIVE_BASE_URL",
}


def main(kind: str, base_url: str, database_url: str) -> None:
    started = time.perf_counter()
    from syncer import logs
    from syncer.config import load_config
    from syncer.connections import build_connector
    from syncer.http.client import REQUESTS_SENT
    from syncer.http.ratelimit import Pacer, PacerRegistry
    from syncer.pull import pull
    from syncer.store import database

    class Unpaced(PacerRegistry):
        """The emulator's limits are lifted: so is the pacing that would respect them."""

        def get(self, key: str, rate: float, burst: float) -> Pacer:
            return super().get(key, 1e9, 1e9)

    logs.configure("WARNING")
    env = {**os.environ, "CALLSYNC_DATABASE_URL": database_url, BASE_URL_VARIABLE[kind]: base_url}
    if "BENCH_OUTREACH_REFRESH_TOKEN" in env:  # the run's own (Outreach rotates them)
        env["OUTREACH_REFRESH_TOKEN"] = env["BENCH_OUTREACH_REFRESH_TOKEN"]
    config = load_config(ROOT / "config.example.yaml", env=env)
    name = next(n for n, c in config.connections.items() if c.kind == kind)
    engine = database.open_migrated(config.database.url)
    connector = build_connector(config, name, engine, pacers=Unpaced())
    ready = time.perf_counter()
    sent, cpu = REQUESTS_SENT.sent, time.process_time()
    result = pull(engine, connector)
    pulled, pull_cpu = time.perf_counter(), time.process_time() - cpu
    first_requests = REQUESTS_SENT.sent - sent
    idle = pull(engine, connector)
    idle_requests = REQUESTS_SENT.sent - sent - first_requests
    connector.close()
    engine.dispose()
    records = sum(s.records for s in result.streams.values())
    report = {
        "records": records,
        "requests": first_requests,
        "wall": pulled - ready,
        "pull_cpu": pull_cpu,
        "setup": ready - started,
        "idle_requests": idle_requests,
        "idle_records": sum(s.records for s in idle.streams.values()),
        "error": result.error or idle.error,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
