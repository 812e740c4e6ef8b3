"""What a push costs per created call: SQL statements, transactions, HTTP requests, CPU, RSS.

For every target kind: serve a source and the target emulator on loopback (rate limits lifted
on both sides: the vendor limits are not what is measured here), seed them from one world,
pull both into a fresh store, and run callsync's real push of the route ``source -> target``
twice:

- **cold**: the first push, every identity (user, person, task) unknown to the store;
- **warm**: as many new calls arrive in the source, are pulled and pushed: identities are in
  the store's cache now (the figure issue 13's target of 1.2 requests per call is about).

SQL statements and commits are counted with SQLAlchemy engine events during the push only;
HTTP requests from the emulators' own request log (by route); CPU is the process's minus the
emulators' own handling (they run in this process); peak RSS is the whole process's.

    python benchmarks/push_throughput.py --calls 10000 [--kinds close,pipedrive]
        [--database sqlite|postgresql] [--results benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import results_file
import sqlalchemy as sa

import connectors
from connectors.emulation import World
from connectors.emulation.base import Emulator
from connectors.emulation.fleet import build_emulator
from connectors.emulation.server import RunningServer, serve
from syncer import logs
from syncer.config import CallsyncConfig, RouteConfig, load_config
from syncer.connections import build_connector
from syncer.http.ratelimit import PacerRegistry
from syncer.pull import pull
from syncer.push_route import push_route
from syncer.push_stats import PushStats
from syncer.store import database
from syncer.store.twins import Tolerances

ROOT = Path(__file__).resolve().parents[1]
BASE_URL_VARIABLE = {
    "amplemarket": "AMPLEMARKET_BASE_URL",
    "outreach": "OUTREACH_BASE_URL",
    "close": "CLOSE_BASE_URL",
    "pipedrive": "PIPEDRIVE_BASE_URL",
}
SOURCE_OF = {"amplemarket": "close", "outreach": "close", "pipedrive": "close", "close": "outreach"}
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "callsync_push_bench"


@dataclass
class SqlCount:
    statements: int = 0
    commits: int = 0
    on: bool = False

    def attach(self, engine: sa.Engine) -> None:
        @sa.event.listens_for(engine, "before_cursor_execute")
        def _statement(*_args: Any) -> None:
            self.statements += self.on

        @sa.event.listens_for(engine, "commit")
        def _commit(*_args: Any) -> None:
            self.commits += self.on


@dataclass
class Phase:
    stats: PushStats
    statements: int
    commits: int
    requests: Counter[str]
    seconds: float
    cpu_seconds: float

    @property
    def created(self) -> int:
        return max(1, self.stats.created)

    def row(self, kind: str, phase: str) -> dict[str, Any]:
        return {
            "target": kind,
            "phase": phase,
            "created": self.stats.created,
            "matched": self.stats.matched,
            "parked": self.stats.parked,
            "sql/call": self.statements / self.created,
            "tx/call": self.commits / self.created,
            "http/call": sum(self.requests.values()) / self.created,
            "calls/s": self.stats.created / self.seconds if self.seconds else 0.0,
            "cpu us/call": self.cpu_seconds / self.created * 1e6,
        }


@dataclass
class Bench:
    kind: str
    calls: int
    database_url: str
    workdir: Path
    emulators: dict[str, Emulator] = field(default_factory=dict)
    handled: list[float] = field(default_factory=lambda: [0.0])

    @property
    def source_kind(self) -> str:
        return SOURCE_OF[self.kind]

    def world(self) -> World:
        # Half the calls are the source's, half the target's own (its twins are among them);
        # the second half of the world arrives in the source before the warm push.
        days = 20
        start = datetime.now(UTC) - timedelta(hours=days * 10 * 2 + 2)
        world = World(
            seed=13,
            calls=4 * self.calls,
            start=start.replace(minute=0, second=0, microsecond=0),
            days=days,
            systems=(self.source_kind, self.kind),
            held_back=2 * self.calls,
        )
        # The world's own ratio (a contact per eight calls) for each batch of source calls,
        # not for the whole world of four batches: warm means the people were met before.
        world.contact_list = world.contact_list[: max(20, self.calls // 8)]
        return world

    def serve(self, world: World) -> dict[str, RunningServer]:
        servers = {}
        for kind in (self.source_kind, self.kind):
            emulator = build_emulator(kind, world)
            emulator.admit = lambda *_args: {}  # type: ignore[method-assign]
            self._time(emulator)
            self.emulators[kind] = emulator
            servers[kind] = serve(emulator)
        return servers

    def _time(self, emulator: Emulator) -> None:
        original = emulator.handle

        def handle(request: Any) -> Any:
            start = time.thread_time()
            try:
                return original(request)
            finally:
                self.handled[0] += time.thread_time() - start

        emulator.handle = handle  # type: ignore[method-assign]

    def config(self, servers: dict[str, RunningServer]) -> CallsyncConfig:
        env = {**os.environ, "CALLSYNC_DATABASE_URL": self.database_url}
        for kind, server in servers.items():
            env[BASE_URL_VARIABLE[kind]] = server.base_url
        config = load_config(ROOT / "config.example.yaml", env=env)
        # Calls logged "now" are read by the next pull, not two minutes later.
        source = config.connections[_name_of(config, self.source_kind)]
        settings = source.settings
        keys = {"settle_delay": timedelta(0), "settle_delay_seconds": 0}
        update = {k: v for k, v in keys.items() if k in type(settings).model_fields}
        source._settings = settings.model_copy(update=update)
        return config


def _name_of(config: CallsyncConfig, kind: str) -> str:
    return next(n for n, c in config.connections.items() if c.kind == kind)


def _pull(config: CallsyncConfig, engine: sa.Engine, names: list[str]) -> None:
    pacers = PacerRegistry(sleep=lambda _seconds: None)
    for name in names:
        connector = build_connector(config, name, engine, pacers=pacers, sleep=lambda _s: None)
        try:
            result = pull(engine, connector)
            assert result.ok, f"the pull of {name} failed"
        finally:
            connector.close()


def _push(bench: Bench, config: CallsyncConfig, engine: sa.Engine, count: SqlCount) -> Phase:
    source, target = _name_of(config, bench.source_kind), _name_of(config, bench.kind)
    route = RouteConfig(source=source, targets=[target])
    pacers = PacerRegistry(sleep=lambda _seconds: None)
    connector = build_connector(config, target, engine, pacers=pacers, sleep=lambda _s: None)
    emulator = bench.emulators[bench.kind]
    emulator.stats.reset()
    count.statements = count.commits = 0
    handled, cpu, wall = bench.handled[0], time.process_time(), time.perf_counter()
    count.on = True
    try:
        matching = Tolerances()
        stats = push_route(engine, route, {target: connector}, matching=matching)[target]
    finally:
        count.on = False
        connector.close()
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu - (bench.handled[0] - handled)
    assert stats.error is None, stats.error
    return Phase(
        stats, count.statements, count.commits, Counter(emulator.stats.by_route), wall, cpu
    )


def _arrive(bench: Bench, world: World) -> None:
    """The held-back calls of the source, logged as made just now (shifted so the newest
    ended a minute ago), as ``callsync demo`` logs its arrivals."""
    source = bench.emulators[bench.source_kind]
    arrivals = [call for call in world.arrivals() if call.system == bench.source_kind]
    newest_end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    shift = newest_end - max(call.ended_at for call in arrivals)
    for call in arrivals:
        source.log_world_call(replace(call, started_at=call.started_at + shift))


@contextmanager
def _store(kind: str, backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{kind}.db'}"
        return
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
        conn.exec_driver_sql(f"CREATE DATABASE {PG_DATABASE}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DATABASE}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        admin.dispose()


def measure(kind: str, calls: int, backend: str, show: Callable[[str], None]) -> list[Phase]:
    workdir = Path(tempfile.mkdtemp(prefix="callsync-push-bench-"))
    with _store(kind, backend, workdir) as url:
        bench = Bench(kind, calls, url, workdir)
        world = bench.world()
        servers = bench.serve(world)
        try:
            config = bench.config(servers)
            engine = database.create_engine(config.database.url)
            database.upgrade(engine)
            count = SqlCount()
            count.attach(engine)
            names = [_name_of(config, bench.source_kind), _name_of(config, kind)]
            _pull(config, engine, names)
            cold = _push(bench, config, engine, count)
            show(f"  {kind} cold: {cold.stats.summary()}")
            _arrive(bench, world)
            _pull(config, engine, names[:1])
            warm = _push(bench, config, engine, count)
            show(f"  {kind} warm: {warm.stats.summary()}")
            engine.dispose()
        finally:
            for server in servers.values():
                server.stop()
    return [cold, warm]


COLUMNS = (
    ("target", "{:<12}"),
    ("phase", "{:<5}"),
    ("created", "{:>7}"),
    ("matched", "{:>7}"),
    ("parked", "{:>6}"),
    ("sql/call", "{:>8.2f}"),
    ("tx/call", "{:>7.3f}"),
    ("http/call", "{:>9.2f}"),
    ("calls/s", "{:>7.0f}"),
    ("cpu us/call", "{:>11.0f}"),
)


def _line(row: dict[str, Any]) -> str:
    return " ".join(fmt.format(row[name]) for name, fmt in COLUMNS)


def _header() -> str:
    return " ".join(f"{name:>{len(fmt.format(0)) if 'f' in fmt else 0}}" for name, fmt in COLUMNS)


def _markdown(rows: list[dict[str, Any]], requests: dict[str, Counter[str]], args: Any) -> str:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"`python benchmarks/push_throughput.py --calls {args.calls} --database {args.database}`"
        f" on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}),"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Per created call; cold: identities unknown,"
        " warm: a second batch of as many new calls once they are cached. Peak RSS of the"
        f" whole run (emulators included): {rss:.0f} MB.",
        "",
        "| " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        cells = [fmt.format(row[name]).strip() for name, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "HTTP requests of the warm push by route:", ""]
    for kind, counter in requests.items():
        shown = ", ".join(f"`{route}` {n}" for route, n in counter.most_common())
        lines.append(f"- {kind}: {shown}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10000, help="source calls per push phase")
    parser.add_argument("--kinds", default=",".join(connectors.known_kinds()))
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--no-results", action="store_true", help="print only")
    args = parser.parse_args()
    logs.configure("ERROR")
    rows, requests = [], {}
    print(_header())
    for kind in args.kinds.split(","):
        cold, warm = measure(kind, args.calls, args.database, print)
        for phase, name in ((cold, "cold"), (warm, "warm")):
            rows.append(phase.row(kind, name))
            print(_line(rows[-1]))
        requests[kind] = warm.requests
        print("  warm requests: " + ", ".join(f"{r} {n}" for r, n in warm.requests.most_common()))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    if not args.no_results:
        results_file.replace_section(args.results, "Push", _markdown(rows, requests, args))


if __name__ == "__main__":
    main()
