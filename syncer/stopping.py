"""The one stop flag of this process, and the signal handlers that set it.

SIGTERM or SIGINT only sets the flag; the engine checks it at its page and write boundaries
(``syncer/pull.py``, ``syncer/push.py``), commits what it has, releases its leases and reports
the run as interrupted. A wait (a rate-limit pause, a retry backoff) ends as soon as the flag is
set. A second signal exits at once: whatever leases are left are taken over by the next run,
since their holder is dead (``syncer/store/leases.py``).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from syncer.errors import TransientError

FLAG = threading.Event()
SIGNALS = (signal.SIGTERM, signal.SIGINT)
EXIT_AT_ONCE = 1


class StopRequested(TransientError):
    """A wait was cut short because this process was asked to stop."""


def requested() -> bool:
    return FLAG.is_set()


def sleep(seconds: float) -> None:
    """``time.sleep`` that ends early, raising :class:`StopRequested`, once a stop is requested."""
    if FLAG.wait(max(0.0, seconds)):
        raise StopRequested("interrupted while waiting")


_received: list[int] = []  # signals received, appended by the handler (no lock taken)


def _handle(signum: int, _frame: FrameType | None) -> None:
    """Only appends and writes with ``os.write``: a handler runs between two bytecodes of the
    main thread, which may hold the lock ``Event.set`` takes (it waits on that very event during
    a rate-limit pause) or be inside a write to ``sys.stderr``; either would deadlock or raise.
    The watcher thread sets :data:`FLAG`."""
    name = signal.Signals(signum).name
    if _received:
        os.write(2, f"callsync: {name} again: exiting at once\n".encode())
        os._exit(EXIT_AT_ONCE)
    _received.append(signum)
    os.write(
        2,
        f"callsync: {name}: stopping at the next page or write boundary "
        "(send it again to exit at once)\n".encode(),
    )


def _watch(done: threading.Event) -> None:
    while not done.wait(0.05):
        if _received and not FLAG.is_set():
            FLAG.set()


@contextmanager
def on_signals() -> Iterator[threading.Event]:
    """Within the block, SIGTERM/SIGINT request a clean stop (main thread only)."""
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(done,), name="callsync-signals", daemon=True)
    watcher.start()
    for signum in SIGNALS:
        signal.signal(signum, _handle)
    try:
        yield FLAG
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        done.set()
        watcher.join()
