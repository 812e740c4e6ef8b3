"""Regression tests for the ways exactly-once broke (issue 8), one per reproduced case.

Each drives the real push engine (and, where the read side matters, the real page commit)
against an in-memory target; rows are read with plain SQL so the tests say what the ledger
holds, not how the engine stores it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Checkpoint, ConnectorContext, Cursor, JsonDict, Page, Resolved, Written
from syncer import mapping
from syncer.config import RouteConfig, RouteWrite
from syncer.connections import DatabaseConnectorState
from syncer.errors import AmbiguousWriteError, UnsettledWriteError, VendorError
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity
from syncer.pull import StreamStats, commit_page
from syncer.push import Pusher
from syncer.push_route import push_route
from syncer.store import leases, repo
from tests.engine.test_push import MemoryTarget, make_call, store

NUMBER = "+14155550100"


def context(engine, name: str) -> ConnectorContext:
    return ConnectorContext(
        name=name,
        settings=None,  # type: ignore[arg-type]
        table=mapping.load_tables()["close"],
        phone_region="US",
        state=DatabaseConnectorState(engine, name),
    )


class Target(MemoryTarget):
    """The in-memory target with scriptable failures and a log of every write call."""

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx, can_update=True)
        self.create_failures: list[Exception] = []
        self.commit_before_failing = False
        self.lookup_failures: list[Exception] = []
        self.updated: list[str] = []

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        if self.create_failures:
            error = self.create_failures.pop(0)
            if self.commit_before_failing:
                super().create(call, marker, resolved)
            raise error
        return super().create(call, marker, resolved)

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        if self.lookup_failures:
            raise self.lookup_failures.pop(0)
        return super().find_by_marker(marker, call)

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        self.updated.append(remote_id)
        super().update(remote_id, call, resolved)

    def marked(self, marker: str) -> int:
        return sum(1 for r in self.records.values() if r["marker"] == marker)


@pytest.fixture
def dst(engine) -> Target:
    return Target(context(engine, "dst"))


def row(engine, call: Call, target: str = "dst"):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM call_links WHERE call_uid = :u AND target_connection = :t"),
            {"u": call.call_uid, "t": target},
        ).first()


def run(engine, target, source: str = "src", **write) -> object:
    route = RouteConfig(source=source, targets=[target.context.name], write=RouteWrite(**write))
    return Pusher(engine, route, target).run()


def due_now(engine) -> None:
    """Time passes: every backed-off row is due."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE call_links SET next_attempt_at = NULL"))


def twin_of(call: Call, connection: str, external_id: str, **fields) -> Call:
    base = {
        "source": SourceIdentity(system="close", connection=connection, external_id=external_id),
        "started_at": call.started_at + timedelta(seconds=5),
        "duration_seconds": call.duration_seconds,
        "note": "logged by hand",
    }
    return make_call(0, **{**base, **fields})


# 1. A write whose request may have landed is never created again without a look-up ------------


@pytest.mark.parametrize(
    "answer",
    [
        AmbiguousWriteError("close POST /activity/call/: answered 500"),
        AmbiguousWriteError("dropped after send"),
    ],
)
def test_a_write_that_may_have_landed_is_looked_up_not_recreated(engine, dst, answer):
    call = make_call(1)
    store(engine, call)
    dst.create_failures, dst.commit_before_failing = [answer], True
    run(engine, dst)
    assert row(engine, call).state == "in_doubt"
    stats = run(engine, dst)
    assert (stats.adopted, stats.created) == (1, 0)
    assert dst.marked(call.call_uid) == 1


def test_a_5xx_reported_as_a_plain_vendor_error_is_still_in_doubt(engine, dst):
    """Second guard: a connector that wraps a POST 5xx as a VendorError (as Close once did)
    must not make the push engine treat the create as refused."""
    call = make_call(1)
    store(engine, call)
    dst.create_failures = [VendorError("close", 502, "bad gateway")]
    dst.commit_before_failing = True
    run(engine, dst)
    assert row(engine, call).state == "in_doubt"
    due_now(engine)
    assert run(engine, dst).adopted == 1
    assert dst.marked(call.call_uid) == 1


def test_an_edit_made_while_a_write_was_in_doubt_reaches_the_adopted_copy(engine, dst):
    """The copy found by marker holds what was *sent*; an edit made since must still be
    written onto it, not hidden by recording today's content as written."""
    call = make_call(1, duration_seconds=60)
    store(engine, call)
    dst.create_failures, dst.commit_before_failing = [AmbiguousWriteError("lost")], True
    run(engine, dst)
    edited = call.model_copy(update={"duration_seconds": 75})
    store(engine, edited)
    first = run(engine, dst)
    assert first.adopted == 1
    second = run(engine, dst)
    assert second.updated == 1
    (record,) = [r for r in dst.records.values() if r["marker"] == call.call_uid]
    assert record["duration"] == 75


def test_a_failed_marker_look_up_keeps_the_write_in_doubt(engine, dst):
    call = make_call(1)
    store(engine, call)
    dst.create_failures, dst.commit_before_failing = [AmbiguousWriteError("lost")], True
    run(engine, dst)
    dst.lookup_failures = [VendorError("close", 404, "lookup endpoint gone")]
    run(engine, dst)
    assert row(engine, call).state == "in_doubt"
    due_now(engine)
    assert run(engine, dst).adopted == 1
    assert dst.marked(call.call_uid) == 1


def test_a_refused_update_is_retried_as_an_update_never_a_create(engine, dst):
    call = make_call(1)
    store(engine, call)
    run(engine, dst)
    store(engine, make_call(1, duration_seconds=99))
    original = dst.update
    dst.update = lambda *_: (_ for _ in ()).throw(VendorError("close", 400, "no"))  # type: ignore[method-assign]
    run(engine, dst)
    assert row(engine, call).state == "failed"
    dst.update = original  # type: ignore[method-assign]
    due_now(engine)
    stats = run(engine, dst)
    assert (stats.updated, stats.created, dst.creates) == (1, 0, 1)


# 2. Two overlapping runs never write into one target at once -----------------------------------


def test_a_second_run_skips_a_target_another_run_is_writing(engine, dst):
    call = make_call(1)
    store(engine, call)
    with engine.begin() as conn:
        assert leases.take(conn, "push:dst", "first-run", timedelta(minutes=1))
    results = push_route(engine, RouteConfig(source="src", targets=["dst"]), {"dst": dst})
    assert results["dst"].busy and dst.creates == 0
    assert row(engine, call) is None


# 3. A retried write looks for a twin again ---------------------------------------------------


def test_a_retried_create_links_the_twin_pulled_meanwhile(engine, dst):
    call = make_call(1)
    store(engine, call)
    dst.create_failures = [VendorError("close", 400, "validation")]
    run(engine, dst)
    store(engine, twin_of(call, "dst", "acti_9"))
    due_now(engine)
    stats = run(engine, dst)
    assert (stats.matched, stats.created, dst.creates) == (1, 0, 0)
    assert row(engine, call).remote_id == "acti_9"


# 4. A twin logged by hand is never written onto --------------------------------------------


def test_an_edit_in_the_source_is_not_written_onto_a_twin(engine, dst):
    call = make_call(1)
    store(engine, call, twin_of(call, "dst", "acti_9"))
    dst.records["acti_9"] = {"id": "acti_9", "marker": None, "duration": 60}
    run(engine, dst)
    assert row(engine, call).kind == "matched"
    store(engine, make_call(1, duration_seconds=99, note="edited at the source"))
    assert run(engine, dst).updated == 0
    assert dst.updated == []
    assert run(engine, dst, update_twins=True).updated == 1  # only when the route opts in


# 5. A twin keeps its own routes ----------------------------------------------------------


def test_a_matched_twin_still_travels_its_own_routes_once(engine):
    b, c = Target(context(engine, "b")), Target(context(engine, "c"))
    x = make_call(1)
    y = twin_of(x, "b", "b-1")
    store(engine, x, y)
    run(engine, b)  # src -> b: y is x's twin there
    assert row(engine, x, "b").kind == "matched"
    assert run(engine, c, source="b").created == 1  # b -> c: b's own call reaches c
    assert run(engine, c).matched == 1  # src -> c: c holds the real call already
    assert len(c.records) == 1


# 6. Twin matching is best-first, direction- and rep-aware --------------------------------


def test_of_two_redials_the_one_logged_twice_takes_the_twin(engine, dst):
    first = make_call(1, outcome=Outcome.NO_ANSWER, duration_seconds=0)
    second = make_call(
        2,
        started_at=first.started_at + timedelta(seconds=20),
        outcome=Outcome.NO_ANSWER,
        duration_seconds=0,
    )
    twin = twin_of(second, "dst", "acti_7", started_at=second.started_at, duration_seconds=0)
    store(engine, first, second, twin)
    stats = run(engine, dst)
    assert (stats.matched, stats.created) == (1, 1)
    assert row(engine, second).remote_id == "acti_7"
    assert row(engine, first).kind == "written"


def test_a_twin_must_agree_on_direction_and_rep(engine, dst):
    call = make_call(1)
    store(
        engine,
        call,
        twin_of(call, "dst", "acti_1", direction=Direction.INBOUND, from_number=call.to_number),
        twin_of(call, "dst", "acti_2", user=Party(email="someone.else@callsync-demo.test")),
    )
    stats = run(engine, dst)
    assert (stats.matched, stats.created) == (0, 1)


# 7. A copy read back before its create was settled is filed under its call ----------------


class Echo(MemoryTarget):
    """A connection whose records are read back (the marker shows as ``copy_of``)."""

    def __init__(self, ctx: ConnectorContext, records: list[JsonDict]) -> None:
        super().__init__(ctx)
        self.pages = records

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        yield Page(self.pages, Checkpoint(partial=None, completed={}))

    def to_call(self, record: JsonDict) -> Call:
        return make_call(
            0,
            source=SourceIdentity(system="close", connection="dst", external_id=record["id"]),
            copy_of=record.get("marker"),
            deleted_at=record.get("deleted_at"),
        )


def test_a_marked_copy_read_back_is_never_a_new_call(engine, dst):
    call = make_call(1)
    store(engine, call)
    dst.create_failures, dst.commit_before_failing = [AmbiguousWriteError("lost")], True
    run(engine, dst)  # in doubt; the copy exists in dst
    reader = Echo(context(engine, "dst"), list(dst.records.values()))
    with engine.begin() as conn:
        commit_page(conn, reader, "calls", next(reader.read("calls", Cursor())), StreamStats())
        assert repo.count_calls(conn) == 1  # no canonical call for the copy
    onward = Target(context(engine, "third"))
    assert run(engine, onward, source="dst").created == 0


def test_a_soft_deleted_record_stays_deleted_when_read_again_unchanged(engine):
    gone = datetime(2026, 1, 6, tzinfo=UTC)
    reader = Echo(context(engine, "dst"), [{"id": "p1", "deleted_at": gone}])
    for _ in range(2):
        with engine.begin() as conn:
            page = next(reader.read("calls", Cursor()))
            commit_page(conn, reader, "calls", page, StreamStats())
    with engine.connect() as conn:
        deleted = conn.execute(sa.text("SELECT deleted_at FROM source_records")).scalar_one()
    assert deleted is not None


# 8. In-doubt writes that cannot be settled wait for a person; the rest goes on ----------------


def test_an_unsettleable_write_goes_to_review_and_the_target_goes_on(engine, dst):
    stuck, other = make_call(1), make_call(5)
    store(engine, stuck, other)
    dst.create_failures, dst.commit_before_failing = [AmbiguousWriteError("lost")], True
    run(engine, dst)
    dst.lookup_failures = [UnsettledWriteError("logged for another user", {"activity": 7})]
    stats = run(engine, dst)
    assert stats.needs_review == 1
    stuck_row = row(engine, stuck)
    assert stuck_row.state == "needs_review"
    assert "activity" in str(stuck_row.evidence)
    assert row(engine, other).state == "done"
    assert run(engine, dst).needs_review == 0  # it waits for a person, costing nothing


# 9. One target's unexpected failure does not stop the others -----------------------------


def test_an_unexpected_error_in_one_target_leaves_the_others_running(engine):
    broken, fine = Target(context(engine, "broken")), Target(context(engine, "fine"))
    broken.create_failures = [RuntimeError("mapping bug")]
    store(engine, make_call(1))
    route = RouteConfig(source="src", targets=["broken", "fine"])
    results = push_route(engine, route, {"broken": broken, "fine": fine})
    assert "RuntimeError" in (results["broken"].error or "")
    assert results["fine"].created == 1


# 12. Failed and parked writes back off ----------------------------------------------------


def test_a_write_that_keeps_failing_backs_off(engine, dst):
    call = make_call(1, to_number=PhoneNumber.parse("+14155550199"))
    store(engine, call)
    assert run(engine, dst).parked == 1  # first failure: retried at the next run
    assert run(engine, dst).parked == 1  # second: now it waits
    waiting = row(engine, call)
    assert waiting.attempts == 2 and waiting.next_attempt_at is not None
    assert run(engine, dst).parked == 0
    dst.people.add("+14155550199")
    due_now(engine)
    assert run(engine, dst).created == 1


# 11. A source's own recordings come through the source connector, from the stored payload ------


class RecordingSource(MemoryTarget):
    """A source that serves audio only for dialer calls (decided from the raw payload)."""

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.asked: list[JsonDict] = []

    def open_recording(self, call: Call):
        self.asked.append(call.raw)
        if call.raw.get("external") is not False:
            return None
        return _chunks([b"RIFF", b"audio"])


def _chunks(parts: list[bytes]):
    from contextlib import contextmanager

    @contextmanager
    def opened():
        yield iter(parts)

    return opened()


class RecordingTarget(Target):
    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.write_support = type(self.write_support)(create=True, recording_file=True)
        self.audio: dict[str, bytes] = {}

    def attach_recording(self, remote_id, call, chunks, content_type) -> None:
        self.audio[remote_id] = b"".join(chunks)


def test_a_dialer_recording_is_streamed_through_the_source_connector(engine):
    call = make_call(
        1,
        recording_url="https://dialer.example/rec/1.mp3",
        raw={"id": "s1", "external": False},
    )
    store(engine, call)  # the store keeps the payload; calls are loaded without it
    source, target = (
        RecordingSource(context(engine, "src")),
        RecordingTarget(context(engine, "dst")),
    )
    route = RouteConfig(source="src", targets=["dst"])
    stats = Pusher(
        engine, route, target, source, fetch_url=lambda url: pytest.fail(f"fetched {url}")
    ).run()
    assert stats.recordings == 1
    assert source.asked == [{"id": "s1", "external": False}]
    assert target.audio == {"r1": b"RIFFaudio"}


# The one thing not prevented: a hand log after callsync wrote the call is reported -----------


class HandLogs(MemoryTarget):
    """The target read back: its records map to the twins given (none marked as copies)."""

    def __init__(self, ctx: ConnectorContext, calls: list[Call]) -> None:
        super().__init__(ctx)
        self.calls = {c.source.external_id: c for c in calls}

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        records = [{"id": key} for key in self.calls]
        yield Page(records, Checkpoint(partial=None, completed={}))

    def to_call(self, record: JsonDict) -> Call:
        return self.calls[record["id"]]


def test_a_call_logged_by_hand_beside_a_written_copy_is_reported_as_a_pair(engine, dst):
    from syncer.pull import pull
    from syncer.store import review

    call = make_call(1)
    store(engine, call)
    assert run(engine, dst).created == 1
    (copy_id,) = dst.records
    by_hand = twin_of(call, "dst", "hand-1")
    unrelated = twin_of(call, "dst", "hand-2", started_at=call.started_at + timedelta(hours=2))
    result = pull(engine, HandLogs(context(engine, "dst"), [by_hand, unrelated]))
    assert result.duplicates == 1
    with engine.connect() as conn:
        (item,) = review.open_items(conn)
    assert (item.subject, item.other) == (by_hand.call_uid, call.call_uid)
    assert (item.detail["logged_remote"], item.detail["copy_remote"]) == ("hand-1", copy_id)
    again = pull(engine, HandLogs(context(engine, "dst"), [by_hand, unrelated]))
    assert again.duplicates == 0  # reported once, never deleted
    assert dst.marked(call.call_uid) == 1


def test_a_twin_linked_before_the_write_is_not_a_duplicate_pair(engine, dst):
    from syncer.pull import pull

    call = make_call(1)
    by_hand = twin_of(call, "dst", "hand-1")
    store(engine, call, by_hand)
    assert run(engine, dst).matched == 1
    assert pull(engine, HandLogs(context(engine, "dst"), [by_hand])).duplicates == 0
