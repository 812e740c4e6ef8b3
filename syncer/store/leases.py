"""Fenced leases: who may work on a named resource (a stream, a target, a run) until when.

One rule for every lease. A lease records its holder (owner id, host, PID, process start time)
and a token that grows each time it changes hands. It is free when it expired, or at once when
its holder is a process on this host that no longer runs (``syncer/processes.py``); a holder on
another host is only ever freed by expiry. Every fenced write renews the lease with the token
it was granted in its own transaction, so a worker that lost its lease records nothing (and, on
PostgreSQL, holds the lease row locked until its transaction ends, so a takeover waits for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection

from syncer import processes
from syncer.errors import TransientError
from syncer.processes import Holder
from syncer.store.tables import LeaseRow
from syncer.store.upsert import insert_for

leases_t = cast(sa.Table, LeaseRow.__table__)
log = structlog.get_logger("callsync.leases")


class LeaseLostError(TransientError):
    """Another worker took over the lease this work held (it expired, or was thought dead)."""


class LeaseBusyError(Exception):
    """Another live worker holds the lease: this work is skipped, and says who holds it."""

    def __init__(self, name: str, holder: Holder | None) -> None:
        self.name = name
        self.holder = holder
        who = holder.describe() if holder is not None else "a worker that just released it"
        super().__init__(f"{name} is held by another callsync run ({who})")


@dataclass(frozen=True)
class Fence:
    """A lease as granted: writes carry it and are refused once the lease changed hands."""

    name: str
    owner: str
    token: int
    ttl: timedelta


def _now() -> datetime:
    return datetime.now(UTC)


def holder_of(row: Any) -> Holder | None:
    """The process a lease row names (None for rows written before holders were recorded)."""
    if row is None or row.host is None or row.pid is None:
        return None
    return Holder(row.host, int(row.pid), row.pid_started)


def current(conn: Connection, name: str) -> Any:
    return conn.execute(sa.select(leases_t).where(leases_t.c.name == name)).first()


def take(
    conn: Connection,
    name: str,
    owner: str,
    ttl: timedelta,
    now: datetime | None = None,
    holder: Holder | None = None,
) -> Fence | None:
    """Take ``name`` unless another live owner holds it unexpired; a takeover raises the token.
    ``holder`` is the process taking it (default: this one)."""
    stamp = now or _now()
    me = holder or processes.me()
    free = sa.or_(leases_t.c.owner == owner, leases_t.c.expires_at < stamp)
    found = current(conn, name)
    dead = holder_of(found) if found is not None and found.owner != owner else None
    if dead is not None and processes.is_dead(dead):
        log.warning("lease.holder_dead", lease=name, holder=dead.describe())
        # Compare-and-set on the token seen dead: a live worker that took it since keeps it.
        free = sa.or_(free, leases_t.c.token == found.token)
    stmt = insert_for(conn, leases_t).values(
        name=name,
        owner=owner,
        token=1,
        expires_at=stamp + ttl,
        acquired_at=stamp,
        host=me.host,
        pid=me.pid,
        pid_started=me.started,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "owner": stmt.excluded.owner,
            "expires_at": stmt.excluded.expires_at,
            "acquired_at": stmt.excluded.acquired_at,
            "host": stmt.excluded.host,
            "pid": stmt.excluded.pid,
            "pid_started": stmt.excluded.pid_started,
            "token": leases_t.c.token + 1,
        },
        where=free,
    )
    conn.execute(stmt)
    row = conn.execute(
        sa.select(leases_t.c.owner, leases_t.c.token).where(leases_t.c.name == name)
    ).one()
    return Fence(name, owner, int(row.token), ttl) if row.owner == owner else None


def renew(conn: Connection, fence: Fence, now: datetime | None = None) -> bool:
    """Extend the lease if ``fence`` still holds it (the heartbeat and every fenced write)."""
    stamp = now or _now()
    result = conn.execute(
        leases_t.update()
        .where(
            leases_t.c.name == fence.name,
            leases_t.c.owner == fence.owner,
            leases_t.c.token == fence.token,
            leases_t.c.expires_at >= stamp,
        )
        .values(expires_at=stamp + fence.ttl)
    )
    return bool(result.rowcount)


def check(conn: Connection, fence: Fence) -> None:
    """Raise :class:`LeaseLostError` unless ``fence`` still holds its lease."""
    if not renew(conn, fence):
        raise LeaseLostError(f"lost lease {fence.name} (token {fence.token})")


def release(conn: Connection, fence: Fence) -> None:
    conn.execute(
        leases_t.delete().where(
            leases_t.c.name == fence.name,
            leases_t.c.owner == fence.owner,
            leases_t.c.token == fence.token,
        )
    )


def is_free(row: Any, now: datetime | None = None) -> bool:
    """Whether a lease row no longer binds anyone: expired, or its holder died on this host."""
    if row is None or row.expires_at < (now or _now()):
        return True
    holder = holder_of(row)
    return holder is not None and processes.is_dead(holder)


def drop_free(conn: Connection, now: datetime | None = None) -> list[str]:
    """Delete leases that bind no one (expired, or their holder died on this host), so the
    table shows only live work; returns their names."""
    dead = [row for row in conn.execute(sa.select(leases_t)) if is_free(row, now)]
    for row in dead:
        conn.execute(
            leases_t.delete().where(leases_t.c.name == row.name, leases_t.c.token == row.token)
        )
    return [row.name for row in dead]
