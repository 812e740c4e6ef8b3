"""Holding a lease while work runs: taken once, renewed by a background thread, released after.

The heartbeat renews every quarter of the lease's time to live, so a lease outlives its holder
by at most ``LEASE_TTL`` when the holder hangs or dies on another host (a holder that died on
this host is taken over at once). Renewal by the thread is not what makes writes safe: every
cursor and ledger write checks the fence token in its own transaction.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import structlog
from sqlalchemy.engine import Engine

from syncer.store import leases
from syncer.store.leases import Fence, LeaseBusyError

log = structlog.get_logger("callsync.leases")

LEASE_TTL = timedelta(seconds=60)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
# Who holds a lease: the process, or one job of a daemon (two jobs of one process writing into
# the same target must not share an owner, or both would think they hold its lease).
_WORKER = contextvars.ContextVar("callsync_worker", default=WORKER_ID)


def current_worker() -> str:
    return _WORKER.get()


@contextmanager
def working_as(job: str) -> Iterator[None]:
    """Leases taken inside belong to ``job`` of this process, not to the process as a whole."""
    token = _WORKER.set(f"{WORKER_ID}/{job}")
    try:
        yield
    finally:
        _WORKER.reset(token)


@contextmanager
def kept(engine: Engine, fence: Fence) -> Iterator[Fence]:
    """Renew ``fence`` in the background for the block, then release it."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(fence.ttl.total_seconds() / 4):
            try:
                with engine.begin() as conn:
                    if not leases.renew(conn, fence):
                        log.warning("lease.lost", lease=fence.name)
                        return
            except Exception as error:  # noqa: BLE001 - fenced writes refuse once it expires
                log.warning("lease.heartbeat_failed", lease=fence.name, error=str(error))

    keeper = threading.Thread(target=beat, name=f"lease:{fence.name}", daemon=True)
    keeper.start()
    try:
        yield fence
    finally:
        done.set()
        keeper.join()
        with engine.begin() as conn:
            leases.release(conn, fence)


@contextmanager
def held_lease(
    engine: Engine, name: str, owner: str | None = None, ttl: timedelta = LEASE_TTL
) -> Iterator[Fence]:
    """Hold lease ``name`` for the block (for ``owner``, else :func:`current_worker`); raises
    :class:`LeaseBusyError` (naming the holder) when another live worker holds it."""
    owner = owner or current_worker()
    with engine.begin() as conn:
        fence = leases.take(conn, name, owner, ttl)
        if fence is None:
            raise LeaseBusyError(name, leases.holder_of(leases.current(conn, name)))
    with kept(engine, fence):
        yield fence
