"""One trial: four emulators on loopback with injected faults, ``callsync sync`` subprocesses
killed at seeded random moments (sometimes two at once), then faults off, clean syncs, and a
count of every target's records by callsync's marker."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

import connectors
from connectors.emulation.faults import FaultPlan
from connectors.emulation.fleet import build_emulator
from connectors.emulation.server import RunningServer, serve
from connectors.emulation.world import World
from tests.fleet import EXAMPLE, example_env

# Where each emulator keeps the call records callsync writes (the harness reads them directly).
CALL_COLLECTION = {
    "amplemarket": "amplemarket.calls",
    "close": "close_calls",
    "outreach": "outreach.calls",
    "pipedrive": "call_logs",
}
CONNECTION_KIND = {"ample": "amplemarket", "close": "close", "outreach": "outreach"}
CONNECTION_KIND["pipedrive"] = "pipedrive"
MARKER = re.compile(r'callsync:([0-9a-f-]{36})|"vendorCallId":\s*"([0-9a-f-]{36})"')

ROUTES = """
routes:
  - from: ample
    to: [close, pipedrive, outreach]
  - from: pipedrive
    to: [close]
"""


@dataclass
class Verdict:
    duplicates: int = 0
    lost: int = 0
    twin_copies: int = 0
    rewrites: int = 0
    review: int = 0
    reauthorised: int = 0  # Outreach refresh chains an admin had to re-authorise
    crashed: int = 0  # the harness itself failed (counted apart from callsync's verdicts)
    details: list[str] = field(default_factory=list)


def _config(directory: Path) -> Path:
    text = EXAMPLE.read_text()
    text = text[: text.index("\nroutes:")] + ROUTES  # routes come last in the example
    path = directory / "callsync.yaml"
    path.write_text(text)
    return path


def _env(urls: dict[str, str], database_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CALLSYNC_",))}
    return base | example_env(urls, database_url)


class Trial:
    def __init__(self, seed: int, database_url: str | None, calls: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.directory = Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-"))
        self.database_url = database_url or f"sqlite:///{self.directory / 'callsync.db'}"
        self.faults = FaultPlan(seed=seed)
        world = World(seed=seed, calls=calls)
        self.servers: dict[str, RunningServer] = {
            kind: serve(build_emulator(kind, world, None, self.faults), 0)
            for kind in connectors.known_kinds()
        }
        urls = {kind: server.base_url for kind, server in self.servers.items()}
        self.env = _env(urls, self.database_url)
        self.config = _config(self.directory)
        self.reauthorisations = 0

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "syncer", "sync", "--config", str(self.config)],
            env=self.env,
            cwd=self.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def chaotic_round(self) -> None:
        self.faults.rate_limit = self.faults.server_error = 0.03
        self.faults.drop_after_commit = 0.05
        self.faults.drop = 0.02
        self.faults.expire_token = 0.01
        overlapping = self.rng.random() < 0.3
        runs = [self._start() for _ in range(2 if overlapping else 1)]
        deadline = time.monotonic() + self.rng.uniform(0.5, 6.0)
        for run in runs:
            try:
                run.communicate(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                run.send_signal(signal.SIGKILL)
                run.communicate()
        _all_due(self.database_url)

    def overlapping_syncs(self, processes: int) -> list[tuple[int, str]]:
        """``processes`` syncs started at the same moment, no faults; their exit codes and
        what they said on stderr."""
        runs = [self._start() for _ in range(processes)]
        said = [run.communicate(timeout=300)[1] for run in runs]
        return [(run.returncode, err) for run, err in zip(runs, said, strict=True)]

    def clean_sync(self) -> subprocess.CompletedProcess[str]:
        self.faults.clear()
        _all_due(self.database_url)
        run = self._start()
        out, err = run.communicate(timeout=300)
        if "invalid_grant" in out + err:
            self._reauthorise()
        return subprocess.CompletedProcess(run.args, run.returncode, out, err)

    def _reauthorise(self) -> None:
        """What an admin does when callsync reports Outreach's refresh chain broken (the answer
        to a refresh, which rotates the token, was lost): consent again and put the new refresh
        token in the config. Counted, since it needs a person; nothing may be lost or doubled."""
        self.reauthorisations += 1
        token = f"reauthorised-{self.seed}-{self.reauthorisations}"
        emulator = self.servers["outreach"].emulator
        emulator.reauthorise(token)  # type: ignore[attr-defined]
        self.env["OUTREACH_REFRESH_TOKEN"] = token

    def run(self, rounds: int) -> Verdict:
        for _ in range(rounds):
            self.chaotic_round()
        self.clean_sync()
        self.clean_sync()
        if self.reauthorisations:
            self.clean_sync()  # the writes a broken token chain held back go out now
        verdict = check(self)
        verdict.reauthorised = self.reauthorisations
        final = self.clean_sync()
        for line in final.stdout.splitlines():
            if line.startswith("route") and re.search(r"\bcreated \d", line):
                verdict.rewrites += 1
                verdict.details.append(f"further sync wrote: {line}")
        return verdict


def _all_due(database_url: str) -> None:
    """Time passes: every backed-off write is due (the harness does not wait an hour)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            if sa.inspect(conn).has_table("call_links"):
                conn.execute(sa.text("UPDATE call_links SET next_attempt_at = NULL"))
                # The killed runs are dead: their leases would expire within a minute.
                conn.execute(sa.text("DELETE FROM leases"))
    finally:
        engine.dispose()


def remote_markers(trial: Trial, kind: str) -> dict[str, int]:
    """marker -> number of records carrying it in the emulator of ``kind``."""
    state = trial.servers[kind].emulator.state
    counts: dict[str, int] = {}
    rows = state.execute("SELECT doc FROM docs WHERE coll = ?", (CALL_COLLECTION[kind],))
    for (doc,) in rows.fetchall():
        # A record may carry its marker in two fields (Close keeps note and note_html).
        for marker in {found.group(1) or found.group(2) for found in MARKER.finditer(doc)}:
            counts[marker] = counts.get(marker, 0) + 1
    return counts


def check(trial: Trial) -> Verdict:
    verdict = Verdict()
    engine = sa.create_engine(trial.database_url)
    try:
        with engine.connect() as conn:
            links = conn.execute(
                sa.text(
                    "SELECT call_uid, target_connection, state, kind, remote_id, reason "
                    "FROM call_links"
                )
            ).all()
    finally:
        engine.dispose()
    markers = {name: remote_markers(trial, kind) for name, kind in CONNECTION_KIND.items()}
    for name, counts in markers.items():
        for marker, count in counts.items():
            if count > 1:
                verdict.duplicates += count - 1
                verdict.details.append(f"{name}: {count} records of call {marker}")
    for link in links:
        held = markers[link.target_connection].get(link.call_uid, 0)
        if link.kind == "matched" and held:
            verdict.twin_copies += held
            verdict.details.append(f"{link.target_connection}: copy of {link.call_uid} by a twin")
        elif link.state == "done" and link.kind == "written" and not held:
            verdict.lost += 1
            verdict.details.append(f"{link.target_connection}: {link.call_uid} done, not there")
        elif link.state == "needs_review":
            verdict.review += 1
        elif link.state == "failed" and "refused" in (link.reason or ""):
            verdict.details.append(f"{link.target_connection}: refused: {link.reason}")
        elif link.state not in ("done", "parked", "skipped", "stale"):
            verdict.lost += 1
            verdict.details.append(
                f"{link.target_connection}: {link.call_uid} left {link.state}: {link.reason}"
            )
    return verdict


def run_trial(
    seed: int, server_url: str | None = None, calls: int = 40, rounds: int = 3
) -> Verdict:
    """One trial; ``server_url``: a PostgreSQL server to make the trial's own database on."""
    with trial_database(seed, server_url) as database_url:
        trial = Trial(seed, database_url, calls)
        try:
            return trial.run(rounds)
        finally:
            trial.close()


def run_overlapping(seed: int, processes: int, server_url: str | None = None) -> Verdict:
    """Several ``callsync sync`` at once on one database, then a check of every target."""
    with trial_database(seed, server_url) as database_url:
        trial = Trial(seed, database_url, 40)
        try:
            codes = trial.overlapping_syncs(processes)
            verdict = check(trial)
            # A run that found work held by another live run exits 1 and names the holder;
            # anything else that is not 0 is a failure of the trial.
            verdict.details += [
                f"a sync exited {code}: {err}"
                for code, err in codes
                if code != 0 and not (code == 1 and _only_busy(err))
            ]
            return verdict
        finally:
            trial.close()


def _only_busy(stderr: str) -> bool:
    """Whether a run's only complaints are work skipped because another run holds it."""
    summary = [line for line in stderr.splitlines() if not line.startswith("timestamp=")]
    # Log lines and the closing verdict (which names again what the lines above said) aside.
    complaints = [line for line in summary if line.strip() and not line.startswith("sync: ")]
    return bool(complaints) and all("held by host" in line for line in complaints)


@contextmanager
def trial_database(seed: int, server_url: str | None) -> Iterator[str | None]:
    if server_url is None:
        yield None  # a SQLite file in the trial's directory
        return
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"chaos_{seed}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":  # one trial, for debugging: python -m tests.chaos.trial SEED
    result = run_trial(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    print(json.dumps(result.__dict__, indent=2))
