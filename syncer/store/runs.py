"""Sync runs: one row per pull of a connection, held open by a lease (``run:<id>``).

A run's row says ``running`` only while its lease binds: a run whose lease expired, whose
holder died on this host, or whose lease is gone without the row being closed, is closed as
``died`` by :func:`close_dead` (called at the start of every command that opens the store).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.store import leases
from syncer.store.leases import Fence
from syncer.store.tables import SyncRunRow

runs_t = cast(sa.Table, SyncRunRow.__table__)
RUNNING, DIED = "running", "died"


def _now() -> datetime:
    return datetime.now(UTC)


def lease_name(run_id: int) -> str:
    return f"run:{run_id}"


def start_run(conn: Connection, connection: str, kind: str) -> int:
    stmt = runs_t.insert().values(
        connection=connection, kind=kind, status=RUNNING, started_at=_now(), stats={}
    )
    return int(conn.execute(stmt.returning(runs_t.c.id)).scalar_one())


def start_held_run(
    conn: Connection, connection: str, kind: str, owner: str, ttl: timedelta
) -> tuple[int, Fence]:
    """Start a run and take its lease in the same transaction, so no one sees it unheld."""
    run_id = start_run(conn, connection, kind)
    fence = leases.take(conn, lease_name(run_id), owner, ttl)
    if fence is None:  # a fresh id: only a leftover row of a rebuilt sequence could hold it
        raise RuntimeError(f"the lease of new run {run_id} is held already")
    return run_id, fence


def finish_run(
    conn: Connection, run_id: int, status: str, stats: dict[str, Any], error: str | None = None
) -> None:
    conn.execute(
        runs_t.update()
        .where(runs_t.c.id == run_id)
        .values(status=status, stats=stats, error=error, finished_at=_now())
    )


def last_runs(conn: Connection) -> dict[str, Any]:
    """The most recent run of each connection."""
    latest = (
        sa.select(runs_t.c.connection, sa.func.max(runs_t.c.id).label("id"))
        .group_by(runs_t.c.connection)
        .subquery()
    )
    stmt = sa.select(runs_t).join(latest, runs_t.c.id == latest.c.id)
    return {row.connection: row for row in conn.execute(stmt)}


def last_runs_by_kind(conn: Connection) -> dict[str, dict[str, Any]]:
    """connection -> run kind (pull, push) -> its most recent run."""
    latest = (
        sa.select(sa.func.max(runs_t.c.id).label("id"))
        .group_by(runs_t.c.connection, runs_t.c.kind)
        .subquery()
    )
    stmt = sa.select(runs_t).join(latest, runs_t.c.id == latest.c.id).order_by(runs_t.c.kind)
    found: dict[str, dict[str, Any]] = {}
    for row in conn.execute(stmt):
        found.setdefault(row.connection, {})[row.kind] = row
    return found


def _why_dead(lease: Any, now: datetime) -> str | None:
    """Why a running run's process is gone, or None while its lease binds."""
    if lease is None:
        return "its process ended without closing the run"
    if not leases.is_free(lease, now):
        return None
    holder = leases.holder_of(lease)
    who = f" ({holder.describe()})" if holder is not None else ""
    if lease.expires_at < now:
        return f"its process{who} stopped renewing its lease (expired {lease.expires_at:%H:%M:%S})"
    return f"its process{who} died"


def close_dead(conn: Connection, now: datetime | None = None) -> list[int]:
    """Close as ``died`` the runs left ``running`` by a process that is gone; their ids."""
    stamp = now or _now()
    closed = []
    for run in conn.execute(sa.select(runs_t.c.id).where(runs_t.c.status == RUNNING)):
        lease = leases.current(conn, lease_name(run.id))
        why = _why_dead(lease, stamp)
        if why is None:
            continue
        conn.execute(
            runs_t.update()
            .where(runs_t.c.id == run.id, runs_t.c.status == RUNNING)
            .values(status=DIED, error=why, finished_at=stamp)
        )
        closed.append(int(run.id))
    leases.drop_free(conn, stamp)
    return closed


def last_ok(conn: Connection, kind: str) -> dict[str, Any]:
    """connection -> its most recent run of ``kind`` that ran through (status ``ok``)."""
    latest = (
        sa.select(sa.func.max(runs_t.c.id).label("id"))
        .where(runs_t.c.kind == kind, runs_t.c.status == "ok")
        .group_by(runs_t.c.connection)
        .subquery()
    )
    stmt = sa.select(runs_t).join(latest, runs_t.c.id == latest.c.id)
    return {row.connection: row for row in conn.execute(stmt)}
