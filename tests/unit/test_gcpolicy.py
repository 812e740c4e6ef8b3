"""``syncer.gcpolicy``: thresholds raised while any holder runs, restored after the last."""

from __future__ import annotations

import gc

from syncer import gcpolicy


def test_thresholds_are_raised_while_held_and_restored_after_the_last_holder() -> None:
    before = gc.get_threshold()
    with gcpolicy.bulk_allocations():
        assert gc.get_threshold() == gcpolicy.BULK_THRESHOLDS
        with gcpolicy.bulk_allocations():
            pass
        assert gc.get_threshold() == gcpolicy.BULK_THRESHOLDS  # an inner holder ended
    assert gc.get_threshold() == before


def test_an_error_inside_still_restores() -> None:
    before = gc.get_threshold()
    try:
        with gcpolicy.bulk_allocations():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
