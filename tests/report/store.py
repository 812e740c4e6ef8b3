"""Store rows for report tests, written through the real store API (repo, ledger, runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncer.config import CallsyncConfig, load_config
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity
from syncer.store import leases, ledger, repo
from tests.cli.test_cli import EXAMPLE

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SYSTEMS = {
    "ample": "amplemarket",
    "close": "close",
    "outreach": "outreach",
    "pipedrive": "pipedrive",
}


def example_config() -> CallsyncConfig:
    """config.example.yaml: routes ``ample -> close, pipedrive`` (no filters) and
    ``close -> outreach`` (connected/voicemail/message outcomes, outbound, >= 10 s, rep ana)."""
    return load_config(EXAMPLE, env={})


def make_call(n: int, source: str = "ample", **fields) -> Call:
    """A call the filters of ``close -> outreach`` let through unless ``fields`` say otherwise."""
    base = {
        "source": SourceIdentity(
            system=SYSTEMS[source], connection=source, external_id=f"{source}-{n}"
        ),
        "started_at": T0 + timedelta(minutes=n),
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "to_number": PhoneNumber.parse("+14155550100"),
        "duration_seconds": 60,
        "user": Party(email="ana@callsync-demo.test"),
    }
    return Call(**{**base, **fields})


def store(engine, *calls: Call) -> None:
    with engine.begin() as conn:
        repo.upsert_calls(conn, list(calls))
        repo.upsert_source_records(conn, list(calls))


def _fence(conn, target: str):
    return leases.take(conn, f"push:{target}", "report-test", timedelta(minutes=5))


def written(engine, call: Call, target: str, remote_id: str, kind: str = ledger.WRITTEN) -> None:
    with engine.begin() as conn:
        fence = _fence(conn, target)
        ledger.complete(
            conn, fence, call.call_uid, target, remote_id, call.content_hash(), kind=kind
        )
        leases.release(conn, fence)


def settled(engine, call: Call, target: str, state: str, reason: str = "why") -> None:
    with engine.begin() as conn:
        fence = _fence(conn, target)
        if state == ledger.IN_DOUBT:
            ledger.claim(conn, fence, call.call_uid, target, call.call_uid, call.content_hash())
        else:
            ledger.settle(conn, fence, call.call_uid, target, state, reason)
        leases.release(conn, fence)


def quarantined(engine, connection: str, key: str) -> None:
    with engine.begin() as conn:
        item = repo.Quarantined(key, {"id": key}, "no start time")
        repo.quarantine(conn, connection, "calls", [item])
