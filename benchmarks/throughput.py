"""Pull throughput: callsync's real pull beside a hand-written loop over the same emulator.

    python benchmarks/throughput.py --calls 100000 [--kinds close,outreach,amplemarket,pipedrive]
        [--database sqlite|postgresql] [--clients floor,callsync] [--rounds 1] [--results FILE]

Per kind, one emulator holds a world of ``--calls`` calls, all in that account, and serves them
over loopback from a process of its own (``bench_serve.py``: rate limits lifted, Close's event
log off). Each client runs in its own child process on a fresh database (a SQLite file, or a
new PostgreSQL database on 127.0.0.1), so its CPU (user + sys) and peak RSS are its own, taken
from ``os.wait4``: the floor (``bench_floor.py``) and callsync (``bench_callsync.py``: the pull,
then an idle poll with nothing new). With ``--rounds 2`` the pair runs twice back to back (wall
ratios on a shared machine). The figures go to ``benchmarks/RESULTS.md`` under ``## Pull``
(``--database postgresql``: ``## Pull (PostgreSQL)``), replacing that section only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_serve
import results_file

HERE = Path(__file__).resolve().parent
KINDS = ("close", "outreach", "amplemarket", "pipedrive")
# The largest documented page of each vendor's call list: Amplemarket documents only its default
# (20; callsync keeps it, the floor too); Pipedrive's call logs take 50, its activities 500.
MAX_PAGE = {"close": 100, "amplemarket": 20, "outreach": 1000, "pipedrive": 500}
# The server fresh databases are made on (``CALLSYNC_BENCH_PG_URL``: any database of it).
PG_ADMIN = os.environ.get("CALLSYNC_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Run:
    kind: str
    client: str
    round: int
    report: dict[str, Any]
    cpu: float  # seconds, user + sys, of the whole child process
    rss_mb: float

    @property
    def records(self) -> int:
        return int(self.report["records"]) or 1

    @property
    def per_second(self) -> float:
        return self.records / self.report["wall"]

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.records * 1e6

    @property
    def pull_cpu_us(self) -> float:
        return self.report["pull_cpu"] / self.records * 1e6

    @property
    def per_thousand(self) -> float:
        return self.report["requests"] / self.records * 1000


def _fresh_database(kind: str, backend: str, workdir: Path, label: str) -> tuple[str, Any]:
    """A database URL nobody used, and how to drop it."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'{kind}-{label}.db'}", lambda: None
    import psycopg

    server = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    name = f"callsync_bench_{os.getpid()}_{kind}_{label}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = psycopg.conninfo.conninfo_to_dict(server) | {"dbname": name}
    dsn = f"postgresql+psycopg://{url.get('user', 'postgres')}@{url.get('host', '127.0.0.1')}"
    return f"{dsn}:{url.get('port', 5432)}/{name}", drop


def run_client(
    client: str, kind: str, base_url: str, database_url: str, number: int
) -> tuple[dict[str, Any], float, float]:
    """Run one client (the ``number``-th run on this emulator) in a child process: its report,
    CPU seconds and peak RSS in MB."""
    script = HERE / f"bench_{client}.py"
    token = bench_serve.refresh_token(number)
    env = {**bench_serve.child_env(), "BENCH_OUTREACH_REFRESH_TOKEN": token}
    child = subprocess.Popen(
        [sys.executable, str(script), kind, base_url, database_url],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0 or not output.strip():
        raise RuntimeError(f"{client} on {kind} failed (exit {child.returncode})")
    report = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss is in kilobytes on Linux.
    return report, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(args: argparse.Namespace) -> list[Run]:
    runs: list[Run] = []
    workdir = Path(tempfile.mkdtemp(prefix="callsync-throughput-"))
    for kind in args.kinds:
        served = bench_serve.start(kind, args.calls, args.seed)
        try:
            for number in range(1, args.rounds + 1):
                for index, client in enumerate(args.clients):
                    url, drop = _fresh_database(kind, args.database, workdir, f"{client}{number}")
                    try:
                        report, cpu, rss = run_client(
                            client, kind, served.base_url, url, number * len(KINDS) + index
                        )
                    finally:
                        drop()
                    run = Run(kind, client, number, report, cpu, rss)
                    runs.append(run)
                    print(_line(run), flush=True)
        finally:
            served.stop()
    return runs


def _line(run: Run) -> str:
    extra = ""
    if run.client == "callsync":
        extra = f"  idle poll {run.report['idle_requests']} requests"
        if run.report.get("error"):
            extra += f"  ERROR {run.report['error']}"
    return (
        f"{run.kind:<12} {run.client:<9} round {run.round}: {run.records} calls, "
        f"{run.per_second:,.0f} calls/s, {run.cpu_us:.0f} µs CPU/call "
        f"({run.pull_cpu_us:.0f} in the pull), {run.per_thousand:.1f} requests/1000, "
        f"{run.rss_mb:.0f} MB{extra}"
    )


def table(runs: list[Run], calls: int) -> list[str]:
    """The Markdown table of ``runs``, callsync beside the floor of its round."""
    rows = [
        "| kind | round | client | calls | calls/s (wall) | CPU µs/call (process) | "
        "CPU µs/call (pull) | requests/1000 calls (minimum) | idle poll requests | "
        "peak RSS MB | wall x floor | CPU x floor |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    floors = {(r.kind, r.round): r for r in runs if r.client == "floor"}
    for run in runs:
        floor = floors.get((run.kind, run.round))
        minimum = math.ceil(run.records / MAX_PAGE[run.kind]) / run.records * 1000
        idle = str(run.report["idle_requests"]) if run.client == "callsync" else ""
        ratio = "" if floor is None or floor is run else f"{floor.per_second / run.per_second:.2f}"
        cpu_ratio = "" if floor is None or floor is run else f"{run.cpu_us / floor.cpu_us:.2f}"
        rows.append(
            f"| {run.kind} | {run.round} | {run.client} | {run.records:,} | {run.per_second:,.0f} "
            f"| {run.cpu_us:.0f} | {run.pull_cpu_us:.0f} | {run.per_thousand:.1f} ({minimum:.1f}) "
            f"| {idle} | {run.rss_mb:.0f} | {ratio} | {cpu_ratio} |"
        )
    return rows


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, {platform.system()}"
    )


def section(args: argparse.Namespace, runs: list[Run]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = [arg for arg in sys.argv[1:] if arg != "--results" and arg != str(args.results)]
    command = " ".join(["python benchmarks/throughput.py", *shown])
    lines = [
        f"Measured {when} on {machine()}: `{command}`.",
        "",
        *table(runs, args.calls),
        "",
        "CPU (process) is the client process's user + sys time from `os.wait4` (imports, "
        "migrations and the idle poll included) per call pulled; CPU (pull) is the first pull's "
        "own. The minimum requests are calls ÷ the largest page; the rest is the strategy's fixed "
        "overhead (look-ups, probes, the empty last page). Wall x floor is how many times longer "
        "callsync took than the floor of the same round.",
    ]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", default="floor,callsync")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--section", help="the RESULTS.md section (default: Pull, by database)")
    parser.add_argument("--no-results", action="store_true", help="print only")
    args = parser.parse_args(argv)
    args.kinds = [kind for kind in args.kinds.split(",") if kind]
    args.clients = [client for client in args.clients.split(",") if client]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    print(f"{args.calls:,} calls per account, {args.database}; {machine()}", flush=True)
    runs = measure(args)
    if not args.no_results:
        title = args.section or ("Pull" if args.database == "sqlite" else "Pull (PostgreSQL)")
        results_file.replace_section(args.results, title, section(args, runs))
        print(f"written to {args.results} (## {title})")


if __name__ == "__main__":
    main()
