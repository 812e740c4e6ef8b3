"""The pure rules of what a target's edit does to the canonical call (``syncer/conflicts.py``):
which kept edits become overrides per policy, when a source change wins one back, and how a
push weighs an edit against a field an override changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncer import conflicts
from syncer.conflicts import Edits, Override, Policy
from syncer.model import Call, Outcome, SourceIdentity

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
WRITTEN = NOW - timedelta(hours=3)
EDITED = NOW - timedelta(hours=2)
AFTER_EDIT = NOW - timedelta(hours=1)
BEFORE_EDIT = NOW - timedelta(minutes=150)


def call(note: str | None = "from the source", updated: datetime | None = WRITTEN) -> Call:
    source = SourceIdentity(
        system="outreach", connection="src", external_id="1", source_updated_at=updated
    )
    return Call(source=source, started_at=NOW - timedelta(days=1), note=note, duration_seconds=60)


SOURCE = call()
LATEST = Policy()
PREFER_TARGET = Policy(prefer=("b", "src"))
PREFER_SOURCE = Policy(prefer=("src", "b"))
OWNED = Policy(never_overwrite=frozenset({"note"}))


def kept_in_b(policy: Policy, source: Call = SOURCE) -> tuple[str, ...]:
    """What a push into b keeps of b's edit of the note (the copy held the source's note)."""
    values = conflicts.values(source)
    resolution = conflicts.resolve(
        source,
        conflicts.digests(values),
        values,
        Edits({"note": "from the rep"}, EDITED),
        policy,
        "b",
    )
    return resolution.kept_edits


@pytest.mark.parametrize(
    ("policy", "note", "yields"),
    [
        (LATEST, "from the rep", True),  # kept, and won back by a later source change
        (PREFER_TARGET, "from the rep", False),  # kept, and b outranks the source
        (PREFER_SOURCE, "from the source", None),  # written over in b: reaches nothing
        (OWNED, "from the source", None),  # b's reps own it there: it stays in b only
    ],
)
def test_what_reaches_the_canonical_call(policy: Policy, note: str, yields: bool | None):
    kept = dict.fromkeys(kept_in_b(policy), "from the rep")
    found = conflicts.accepted(SOURCE, kept, EDITED, "b", policy)
    canonical, held = conflicts.apply(SOURCE, found)
    assert canonical.note == note
    assert [o.yields for o in held] == ([] if yields is None else [yields])


def override(**given: Any) -> Override:
    base: dict[str, Any] = {
        "field": "note",
        "value": "from the rep",
        "at": EDITED,
        "target": "b",
        "basis": conflicts.digest("from the source"),
        "yields": True,
    }
    return Override(**{**base, **given})


@pytest.mark.parametrize(
    ("source", "given", "note", "basis"),
    [
        # the source did not change the note (another field, or nothing): the edit holds
        (call(updated=AFTER_EDIT), override(), "from the rep", "from the source"),
        # the source changed it again after the edit: it wins back
        (call("again", AFTER_EDIT), override(), "again", None),
        # ... before the edit (read late): the edit holds, now over the new source value
        (call("again", BEFORE_EDIT), override(), "from the rep", "again"),
        # ... at an unknown time: an unknown time loses
        (call("again", None), override(), "from the rep", "again"),
        # the target outranks the source: it holds whenever the source changed
        (call("again", AFTER_EDIT), override(yields=False), "from the rep", "again"),
        # an edit of unknown time yields to any dated source change
        (call("again", AFTER_EDIT), override(at=None), "again", None),
    ],
)
def test_a_source_change_wins_back_by_time_and_rank(
    source: Call, given: Override, note: str, basis: str | None
):
    canonical, held = conflicts.apply(source, [given])
    assert canonical.note == note
    assert [o.basis for o in held] == ([] if basis is None else [conflicts.digest(basis)])
    assert canonical.source == source.source and canonical.raw == source.raw


def test_an_accepted_edit_changes_the_content_hash_not_the_source():
    canonical, _ = conflicts.apply(SOURCE, [override()])
    assert canonical.content_hash() != SOURCE.content_hash()
    assert canonical.source.source_updated_at == WRITTEN


@pytest.mark.parametrize(
    ("current", "kept", "expected"),
    [
        ((), {"note": "from the rep"}, [override()]),
        ((), {"note": "from the source"}, []),  # no change of the call
        ((override(at=AFTER_EDIT, target="c", value="c's"),), {"note": "from the rep"}, []),
        (
            (override(at=BEFORE_EDIT, target="c", value="c's"),),
            {"note": "from the rep"},
            [override()],  # the source's value is still the earlier override's basis
        ),
        ((override(),), {"note": "from the rep"}, []),  # accepted already
    ],
)
def test_accepted(current: tuple[Override, ...], kept: dict[str, Any], expected: list[Override]):
    canonical, _ = conflicts.apply(SOURCE, list(current))
    assert conflicts.accepted(canonical, kept, EDITED, "b", LATEST, current) == expected


def test_an_owned_field_is_never_accepted_even_when_asked():
    assert conflicts.accepted(SOURCE, {"note": "from the rep"}, EDITED, "b", OWNED) == []


def resolve_in(target_edit: str, canonical: Call, changed_at: dict[str, datetime]) -> Any:
    """A push into a target whose copy held the source's note and was edited at EDITED."""
    values = conflicts.values(SOURCE)
    return conflicts.resolve(
        canonical,
        conflicts.digests(values),
        values,
        Edits({"note": target_edit}, EDITED),
        LATEST,
        "b",
        changed_at,
    )


@pytest.mark.parametrize(
    ("target_edit", "canonical_note", "changed_at", "write", "kept"),
    [
        # the call's note is b's own edit: nothing to write, the edit stays
        ("from the rep", "from the rep", {"note": EDITED}, (), ("note",)),
        # another target's edit, later than b's: it is written into b
        ("from the rep", "c's", {"note": AFTER_EDIT}, ("note",), ()),
        # another target's edit, earlier than b's: b keeps its own
        ("from the rep", "c's", {"note": BEFORE_EDIT}, (), ("note",)),
        # without a time of its own the field changed with the source (before the edit)
        ("from the rep", "c's", {}, (), ("note",)),
    ],
)
def test_an_edit_is_weighed_against_when_the_call_changed(
    target_edit: str,
    canonical_note: str,
    changed_at: dict[str, datetime],
    write: tuple[str, ...],
    kept: tuple[str, ...],
):
    canonical = SOURCE.model_copy(update={"note": canonical_note})
    resolution = resolve_in(target_edit, canonical, changed_at)
    assert (resolution.write, resolution.kept_edits) == (write, kept)


def test_edited_compares_only_declared_fields():
    held = conflicts.values(SOURCE)
    copy = {**held, "note": "from the rep", "outcome": Outcome.NO_ANSWER.value}
    assert conflicts.edited(copy, held, ("note",)) == {"note": "from the rep"}
    assert conflicts.edited(copy, held, ()) == {}
    assert conflicts.edited(copy, held, ("note", "outcome")) == {
        "note": "from the rep",
        "outcome": "no_answer",
    }
