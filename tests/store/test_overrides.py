"""Accepted target edits in the store (``call_overrides``), on both backends: accepting one
changes the stored call and its content hash; storing the call from its source again keeps
it, until a later source change of the field wins it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from syncer import accepted
from syncer.conflicts import Policy
from syncer.model import Call
from syncer.store import overrides, repo
from tests.store.test_repo import make_call

EDITED = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


def stored(engine: sa.Engine, call_uid: str) -> tuple[Call, str]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(repo.calls_t.c.data, repo.calls_t.c.content_hash).where(
                repo.calls_t.c.call_uid == call_uid
            )
        ).one()
    return Call.model_validate(row.data), row.content_hash


def store_from_source(engine: sa.Engine, call: Call) -> None:
    with engine.begin() as conn:
        repo.upsert_calls(conn, accepted.on_store(conn, [call]))


def test_a_cleared_note_is_accepted_and_kept_until_the_source_changes_it(engine):
    source = make_call(note="from the source")
    store_from_source(engine, source)
    before = stored(engine, source.call_uid)
    with engine.begin() as conn:  # a rep cleared the note in target b
        changed = accepted.accept(conn, source.call_uid, {"note": None}, EDITED, "b", Policy())
    assert changed == {"note": None}
    call, digest = stored(engine, source.call_uid)
    assert call.note is None and digest != before[1] and digest == call.content_hash()
    with engine.connect() as conn:
        [kept] = overrides.of_calls(conn, [source.call_uid])[source.call_uid]
    assert (kept.value, kept.at, kept.target, kept.yields) == (None, EDITED, "b", True)

    touched = make_call(note="from the source", updated=EDITED + timedelta(hours=1))
    store_from_source(engine, touched)  # the source changed, not its note: the edit holds
    assert stored(engine, source.call_uid)[0].note is None

    store_from_source(engine, make_call(note="again", updated=EDITED + timedelta(hours=2)))
    assert stored(engine, source.call_uid)[0].note == "again"  # won back
    with engine.connect() as conn:
        assert overrides.of_calls(conn, [source.call_uid]) == {}


def test_accepting_a_call_no_longer_stored_changes_nothing(engine):
    with engine.begin() as conn:
        assert accepted.accept(conn, "gone", {"note": "x"}, EDITED, "b", Policy()) == {}
