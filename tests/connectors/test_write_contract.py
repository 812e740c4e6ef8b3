"""One write suite, run against every target through its emulator harness and the real push
engine: calls land once, survive a round trip through the read path, a lost answer is adopted
rather than repeated, a parked write succeeds once its person exists, and re-runs write nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from connectors.emulation import FaultKind
from syncer.config import RouteConfig
from syncer.pull import pull
from syncer.push import Pusher
from syncer.store import ledger, repo

ROUND_TRIP_CALLS = 1000


def store_source_calls(engine, calls) -> None:
    with engine.begin() as conn:
        repo.upsert_calls(conn, calls)
        repo.upsert_source_records(conn, calls)


RECORDING = bytes(range(256)) * 64  # 16 KiB of fake audio


@contextmanager
def fake_recording(url: str) -> Iterator[Iterator[bytes]]:
    """Recordings by URL, served without a network (tests never leave the machine)."""
    assert url.startswith("https://")
    yield iter([RECORDING[:5000], RECORDING[5000:]])


def pusher(engine, harness, **route) -> Pusher:
    target = harness.connector(engine)
    config = RouteConfig(source="src", targets=[target.context.name], **route)
    return Pusher(engine, config, target, fetch_url=fake_recording)


def link_of(engine, call, target: str):
    with engine.connect() as conn:
        return ledger.get(conn, call.call_uid, target)


def test_calls_land_once_and_survive_the_round_trip(harness, engine):
    harness.seed(40)
    harness.settle()
    before = harness.remote_count()
    calls = [harness.writable_call(i) for i in range(ROUND_TRIP_CALLS)]
    store_source_calls(engine, calls)
    stats = pusher(engine, harness).run()
    assert stats.created == ROUND_TRIP_CALLS, stats
    assert harness.remote_count() == before + ROUND_TRIP_CALLS
    if harness.connector(engine).write_support.recording_file:  # streamed from the source
        assert stats.recordings == ROUND_TRIP_CALLS

    again = pusher(engine, harness).run()
    assert (again.created, again.updated, again.adopted) == (0, 0, 0)
    assert harness.remote_count() == before + ROUND_TRIP_CALLS

    harness.settle()
    reader = harness.connector(engine)
    assert pull(engine, reader).ok
    name = reader.context.name
    with engine.connect() as conn:
        # callsync's own records come back filed under the call they copy, never as new calls
        own = conn.execute(
            sa.select(sa.func.count())
            .select_from(repo.calls_t)
            .where(
                repo.calls_t.c.origin_connection == name,
                repo.calls_t.c.call_uid.in_([c.call_uid for c in calls]),
            )
        ).scalar_one()
        assert own == 0
        copies = {
            row.call_uid: row.raw
            for row in conn.execute(
                sa.select(repo.sources_t.c.call_uid, repo.sources_t.c.raw).where(
                    repo.sources_t.c.connection == name
                )
            )
        }
    fields = harness.round_trip_fields()
    for call in calls:
        assert call.call_uid in copies, f"{call.call_uid} was not read back"
        back = reader.to_call(copies[call.call_uid])
        # the read path finds callsync's marker: a copy is known as one whatever the ledger says
        assert back.copy_of == call.call_uid
        for field in fields:
            assert getattr(back, field) == getattr(call, field), (field, call.source.external_id)


def test_a_lost_answer_is_adopted_not_repeated(harness, engine):
    harness.seed(40)
    harness.settle()
    before = harness.remote_count()
    call = harness.writable_call(7)
    store_source_calls(engine, [call])
    harness.emulator.faults.script(
        FaultKind.DROP_AFTER_COMMIT, method="POST", path=harness.create_path()
    )
    first = pusher(engine, harness).run()
    assert first.created == 0
    assert harness.remote_count() == before + 1  # the vendor did commit it
    assert link_of(engine, call, harness.connector(engine).context.name).state == "in_doubt"
    second = pusher(engine, harness).run()
    assert (second.adopted, second.created) == (1, 0)
    assert harness.remote_count() == before + 1
    assert link_of(engine, call, harness.connector(engine).context.name).state == "done"


def test_a_parked_write_succeeds_once_the_person_exists(harness, engine):
    harness.seed(40)
    harness.settle()
    call = harness.unresolvable_call(3)
    store_source_calls(engine, [call])
    target = harness.connector(engine).context.name
    parked = pusher(engine, harness).run()
    assert parked.parked == 1
    link = link_of(engine, call, target)
    assert link.state == "parked"
    number = call.to_number.e164 if call.direction != "inbound" else call.from_number.e164
    assert number in link.reason or (call.contact and call.contact.email in link.reason)
    harness.make_resolvable(call)
    with engine.begin() as conn:  # as if the cached miss had expired
        conn.execute(repo.state_t.delete().where(repo.state_t.c.key.like("identity:%")))
    done = pusher(engine, harness).run()
    assert done.created == 1
    assert link_of(engine, call, target).state == "done"


# Notes whose shape a vendor may change on the way (HTML paragraphs, blank lines, spaces,
# markup characters, nothing at all): read back, none may look like a rep's edit.
NOTES = (
    "Call back next week",
    "  spaced out  \n\n\nsecond paragraph\n",
    "<b>not markup</b> & <i>ampersands</i>",
    "",
    None,
    "x" * 300,
)


def test_a_copy_read_back_is_no_edit(harness, engine):
    harness.seed(20)
    harness.settle()
    calls = [
        harness.writable_call(i).model_copy(update={"note": NOTES[i % len(NOTES)]})
        for i in range(2 * len(NOTES))
    ]
    store_source_calls(engine, calls)
    assert pusher(engine, harness).run().created == len(calls)
    harness.settle()
    reader = harness.connector(engine)
    assert pull(engine, reader).ok
    name = reader.context.name
    rows = [link_of(engine, call, name) for call in calls]
    assert [row.target_edits for row in rows] == [None] * len(calls)
    assert ledger.EDITED not in {row.written_hash for row in rows}
    again = pusher(engine, harness).run()
    assert (again.updated, again.stale) == (0, 0)
