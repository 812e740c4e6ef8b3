"""Leases of dead holders are taken over at once; runs of dead processes are closed as died."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from syncer import processes
from syncer.processes import Holder
from syncer.store import leases, runs

TTL = timedelta(minutes=10)


@pytest.fixture(scope="module")
def dead() -> Holder:
    """A process of this host that ran and was reaped."""
    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()
    return Holder(processes.this_host(), probe.pid, None)


def test_a_lease_of_a_dead_holder_on_this_host_is_taken_at_once(engine, dead):
    with engine.begin() as conn:
        old = leases.take(conn, "pull:close:calls", "killed", TTL, holder=dead)
        assert old is not None
        new = leases.take(conn, "pull:close:calls", "next-run", TTL)
        assert new is not None and new.token == old.token + 1
        assert not leases.renew(conn, old)  # the dead run's fence no longer writes


def test_a_live_holder_keeps_its_lease(engine):
    with engine.begin() as conn:
        assert leases.take(conn, "pull:close:calls", "running", TTL)  # this process: alive
        assert leases.take(conn, "pull:close:calls", "next-run", TTL) is None


def test_a_reused_pid_is_not_its_old_holder(engine):
    me = processes.me()
    if me.started is None:
        pytest.skip("no /proc start times here")
    before = Holder(me.host, me.pid, me.started - 1)  # same PID, an earlier process
    with engine.begin() as conn:
        assert leases.take(conn, "push:close", "earlier", TTL, holder=before)
        assert leases.take(conn, "push:close", "now", TTL) is not None


def test_a_holder_on_another_host_is_freed_only_by_expiry(engine, dead):
    elsewhere = Holder("another-host", dead.pid, None)
    with engine.begin() as conn:
        assert leases.take(conn, "push:close", "remote", TTL, holder=elsewhere)
        assert leases.take(conn, "push:close", "here", TTL) is None


def test_runs_of_dead_processes_are_closed_as_died(engine, dead):
    with engine.begin() as conn:
        killed, _ = runs.start_held_run(conn, "close", "pull", "killed", TTL)
        conn.execute(
            leases.leases_t.update()
            .where(leases.leases_t.c.name == runs.lease_name(killed))
            .values(host=dead.host, pid=dead.pid, pid_started=None)
        )
        runs.start_held_run(conn, "ample", "pull", "alive", TTL)
        assert runs.close_dead(conn) == [killed]
        latest = runs.last_runs(conn)
        assert latest["close"].status == "died"
        assert f"pid {dead.pid}" in latest["close"].error
        assert latest["ample"].status == "running"
        assert leases.current(conn, runs.lease_name(killed)) is None
