"""Fewer garbage-collector passes while pages are mapped and stored.

Mapping a page allocates tens of thousands of short-lived objects (parsed JSON, pydantic
models, rows), and CPython's default young-generation threshold (700 allocations) runs a
collection every few records: about a quarter of a pull's mapping time, measured on Close
pages, for objects reference counting frees anyway (they form no cycles). While any pull runs,
the young generation's threshold is raised; the last one to finish restores what the process
had. The older generations keep their ratios (10): garbage in cycles is still collected every
million allocations or so, so memory stays flat however many pages a pull reads (with 50,000 /
20 / 20 it was not: a 100,000-call pull peaked 60 MB higher).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLDS = (10_000, 10, 10)

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def bulk_allocations() -> Iterator[None]:
    """Raise the collector's thresholds for the duration (nested and threaded use is fine)."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*BULK_THRESHOLDS)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
