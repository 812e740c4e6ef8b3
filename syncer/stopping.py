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
import sys
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


def _handle(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if FLAG.is_set():
        sys.stderr.write(f"callsync: {name} again: exiting at once\n")
        sys.stderr.flush()
        os._exit(EXIT_AT_ONCE)
    FLAG.set()
    sys.stderr.write(
        f"callsync: {name}: stopping at the next page or write boundary "
        "(send it again to exit at once)\n"
    )
    sys.stderr.flush()


@contextmanager
def on_signals() -> Iterator[threading.Event]:
    """Within the block, SIGTERM/SIGINT request a clean stop (main thread only)."""
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, _handle)
    try:
        yield FLAG
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
