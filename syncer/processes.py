"""Who this process is, and whether a process recorded on a lease or run is still alive.

A holder is (host, pid, start time). Liveness can only be judged on the holder's own host: a
process on another host is taken for alive, and only its lease's expiry frees what it held.
The start time (Linux ``/proc/<pid>/stat``, clock ticks since boot) guards against a PID
reused by a new process after the holder died; where it cannot be read it is ``None`` and
the PID alone decides.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: int | None = None

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}"


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None where it cannot be read."""
    fields = _stat_fields(pid)
    # After the name: state is field 3 of stat(5), so starttime (field 22) is index 19.
    if fields is None or len(fields) < 20:
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


@cache
def this_host() -> str:
    return socket.gethostname()


def me() -> Holder:
    """This process (not cached across a fork: the PID is read each time)."""
    pid = os.getpid()
    return Holder(this_host(), pid, start_time(pid))


def is_dead(holder: Holder) -> bool:
    """Whether ``holder`` certainly no longer runs: on this host, its PID is gone, a zombie,
    or now a different process. False whenever it cannot be told (another host)."""
    if holder.host != this_host():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists and belongs to another user
    fields = _stat_fields(holder.pid)
    if fields is None:
        return False  # no /proc: the PID exists, which is all that can be known
    if fields[0] in ("Z", "X"):  # killed and not yet reaped by its parent
        return True
    started = start_time(holder.pid)
    return holder.started is not None and started is not None and started != holder.started
