"""Which values a copy shows are edits, not a read from before callsync's last write
(``syncer/edits.py``): a value callsync never wrote is one whatever the clocks say; the value
the copy showed before the write is one only when the copy changed after the write landed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncer.edits import _not_read_before

WROTE = datetime(2026, 3, 1, 12, 0, 0, 400_000, tzinfo=UTC)
WRITTEN = {"held": {"note": "new"}, "previous": {"note": "old"}, "at": WROTE.isoformat()}


def test_the_value_from_before_the_write_read_before_it_landed_is_no_edit():
    assert _not_read_before({"note": "old"}, WRITTEN, WROTE - timedelta(minutes=5)) == {}


def test_the_value_from_before_put_back_after_the_write_is_an_edit():
    later = WROTE + timedelta(seconds=2)
    assert _not_read_before({"note": "old"}, WRITTEN, later) == {"note": "old"}


def test_a_value_never_written_is_an_edit_even_within_the_writes_second():
    whole_second = WROTE.replace(microsecond=0)  # a vendor clock of whole seconds
    assert _not_read_before({"note": "rep"}, WRITTEN, whole_second) == {"note": "rep"}


def test_no_update_time_takes_the_earlier_value_for_a_read_from_before():
    assert _not_read_before({"note": "old"}, WRITTEN, None) == {}
    assert _not_read_before({"note": "rep"}, WRITTEN, None) == {"note": "rep"}


def test_after_a_create_or_on_older_rows_every_difference_is_an_edit():
    created = {"held": {"note": "new"}, "at": WROTE.isoformat()}
    assert _not_read_before({"note": "old"}, created, None) == {"note": "old"}
    assert _not_read_before({"note": "old"}, {"held": {"note": "new"}}, None) == {"note": "old"}
