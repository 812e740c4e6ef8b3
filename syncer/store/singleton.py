"""One daemon per SQLite database: an exclusive lock on a file beside it.

SQLite has no leases that several machines could share, and two daemons on one file would only
take turns on its write lock; so a second ``callsync run`` refuses to start and names the first
one. One-off commands (``sync``, ``status``, ...) do not take this lock and work beside it.
PostgreSQL needs no such lock: replicas share the work through leases in the database.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa


class DaemonAlreadyRunningError(RuntimeError):
    """Another ``callsync run`` holds this SQLite database."""


class DaemonLock:
    """Held from ``__enter__`` to ``__exit__``; a no-op when ``path`` is None."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_url(cls, url: str) -> DaemonLock:
        parsed = sa.make_url(url)
        database = parsed.database
        if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return cls(None)
        return cls(Path(database).with_name(Path(database).name + ".daemon.lock"))

    def __enter__(self) -> DaemonLock:
        if self.path is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 100).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DaemonAlreadyRunningError(
                f"another callsync daemon ({holder}) is running on this SQLite database "
                f"(lock {self.path}); stop it first, or use PostgreSQL to run several replicas"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
