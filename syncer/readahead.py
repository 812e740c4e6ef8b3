"""Read the next page while the current one is stored.

A pull alternates between waiting for the vendor (the request of page N+1) and its own work
(mapping and committing page N); one after the other, its wall time is the sum of both.
:class:`ReadAhead` runs a connector's page iterator one page ahead in a thread of its own, so
the vendor's time overlaps callsync's. Nothing else changes: pages still reach the store one at
a time and in order, each committed with its own cursor; what is read ahead but never stored
(the pull stopped, or failed) is simply read again by the next pull. An error of the reader
surfaces where the next page would have, after the pages before it were stored.

Only connectors whose read path shares no unguarded state with their mapping opt in
(``Connector.reads_ahead``); the thread runs in a copy of the caller's context, so log lines
keep their bound fields.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = "item", "end", "error"


class ReadAhead(Generic[T]):
    """Iterate ``source`` in a thread, at most one item ahead of the consumer; ``close()``
    (or leaving the ``with`` block) stops the thread before the next item."""

    def __init__(self, source: Iterator[T], name: str = "read-ahead") -> None:
        self._source = source
        # Permits to read one more item: the first, then one per item handed over, so while
        # the consumer works on item N the reader fetches N+1 and waits.
        self._wanted = threading.Semaphore(1)
        self._items: queue.Queue[tuple[str, object]] = queue.Queue()
        self._stopped = threading.Event()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name=name, daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self._wanted.acquire()
                if self._stopped.is_set():
                    return
                try:
                    item = next(self._source)
                except StopIteration:
                    self._items.put((_END, None))
                    return
                self._items.put((_ITEM, item))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, re-raised there
            self._items.put((_ERROR, error))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()  # a generator's cleanup runs in the thread that ran it

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        kind, value = self._items.get()
        if kind == _END:
            self._items.put((_END, None))  # asked again: still the end
            raise StopIteration
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        self._wanted.release()  # the next item may be read while this one is worked on
        return value  # type: ignore[return-value]

    def close(self) -> None:
        self._stopped.set()
        self._wanted.release()  # wake the reader if it waits for demand
        self._thread.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
