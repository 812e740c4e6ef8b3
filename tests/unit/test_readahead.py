"""``syncer.readahead``: items in order, at most one ahead, errors where the item would be."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from syncer.readahead import ReadAhead


def test_items_arrive_in_order_and_then_the_end() -> None:
    with ReadAhead(iter(range(5))) as reading:
        assert list(reading) == [0, 1, 2, 3, 4]
        with pytest.raises(StopIteration):
            next(reading)


def test_the_reader_is_at_most_one_item_ahead() -> None:
    produced: list[int] = []
    asked = threading.Event()

    def source() -> Iterator[int]:
        for number in range(10):
            produced.append(number)
            if number == 1:
                asked.set()
            yield number

    reading = ReadAhead(source())
    assert next(reading) == 0
    assert asked.wait(30)  # item 1 is read while item 0 is worked on ...
    reading.close()  # ... and item 2 only on demand, which closing never gives
    assert produced == [0, 1]


def test_an_error_surfaces_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise ValueError("page 2 failed")

    with ReadAhead(source()) as reading:
        assert next(reading) == 1
        with pytest.raises(ValueError, match="page 2 failed"):
            next(reading)


def test_closing_early_stops_the_reader_and_runs_the_source_cleanup() -> None:
    cleaned = threading.Event()
    produced: list[int] = []

    def source() -> Iterator[int]:
        try:
            for number in range(100):
                produced.append(number)
                yield number
        finally:
            cleaned.set()

    reading = ReadAhead(source())
    assert next(reading) == 0
    reading.close()
    assert cleaned.is_set()
    assert len(produced) <= 2
