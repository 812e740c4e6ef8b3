"""The mass-change guard's limits, the deletion mark, and the route's guard over the top-level
one (issue 12); the behaviour against the emulators is in tests/engine/test_deletions.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from syncer.config import CallsyncConfig, GuardConfig, RouteConfig
from syncer.deletions import marked
from syncer.guard import exceeds
from syncer.model import Call, SourceIdentity


@pytest.mark.parametrize(
    ("policy", "changes", "base", "trips"),
    [
        (GuardConfig(), 0, 0, None),
        (GuardConfig(), 10, 100, None),  # exactly 10 %: not more than it
        (GuardConfig(), 11, 100, "max_share"),
        (GuardConfig(), 9, 10, None),  # below min_count: a small store's edit
        (GuardConfig(min_count=0), 1, 3, "max_share"),
        (GuardConfig(min_count=0), 1, 0, "max_share"),  # nothing written yet: any change
        (GuardConfig(max_count=5), 6, 1000, "max_count"),  # the count trips below the share
        (GuardConfig(max_count=5), 5, 1000, None),
        (GuardConfig(max_share=1.0), 100, 100, None),
    ],
)
def test_exceeds(policy, changes, base, trips):
    found = exceeds(policy, changes, base)
    assert (found is None) if trips is None else (found is not None and trips in found)


def test_the_guard_config_refuses_a_share_out_of_range():
    with pytest.raises(ValidationError):
        GuardConfig(max_share=0)
    with pytest.raises(ValidationError):
        GuardConfig(max_share=1.5)


def test_a_route_overrides_only_the_keys_it_gives():
    config = CallsyncConfig.model_validate(
        {
            "guard": {"max_share": 0.2, "max_count": 50},
            "routes": [
                {"from": "a", "to": ["b"], "guard": {"max_share": 0.5}},
                {"from": "a", "to": ["c"]},
            ],
        }
    )
    own, plain = config.routes
    assert config.guard_of(own) == GuardConfig(max_share=0.5, max_count=50)
    assert config.guard_of(plain) == GuardConfig(max_share=0.2, max_count=50)
    assert plain.deletions == "ignore"
    with pytest.raises(ValidationError):
        RouteConfig.model_validate({"from": "a", "to": ["b"], "deletions": "purge"})


def _call(note: str | None) -> Call:
    return Call(
        source=SourceIdentity(system="close", connection="close", external_id="acti_1"),
        started_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
        note=note,
        deleted_at=datetime(2026, 3, 4, 17, 30, tzinfo=UTC),
    )


def test_the_mark_ends_the_note_once():
    once = marked(_call("Asked for a demo"), "close")
    assert once.note == "Asked for a demo\n\n[deleted in close on 2026-03-04]"
    assert once.deleted_at is None  # the target is told what to show, not to delete
    twice = marked(once.model_copy(update={"deleted_at": _call(None).deleted_at}), "close")
    assert twice.note == once.note
    assert marked(_call(None), "close").note == "[deleted in close on 2026-03-04]"
