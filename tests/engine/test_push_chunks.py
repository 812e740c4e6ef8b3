"""A push killed inside a chunk (``syncer/push_chunks.py``): after its intents were committed
and before its creates went out, or after some creates landed and before the chunk's outcomes
were written. The next sync leaves every call in the target exactly once.

The kill is simulated in the process: from the moment of the kill every statement the process
would still send to the database fails (as if it had died), so nothing after that point is
recorded; the transaction open at that moment is rolled back, as the database would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import Resolved, Written
from syncer import push_chunks
from syncer.config import RouteConfig
from syncer.model import Call, PhoneNumber, SourceIdentity
from syncer.push import Pusher
from syncer.push_chunks import CHUNK_SIZE
from tests.engine.test_exactly_once import Target, context
from tests.engine.test_push import T0, make_call, store

CALLS = 2 * CHUNK_SIZE + 10  # three chunks; the second one is killed
NUMBER = "+14155550100"


class Killed(BaseException):
    """The process died here: nothing after this runs or is written."""


class Process:
    """Kills the process's database access at a chosen moment, and revives it (a restart)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.dead = False
        sa.event.listen(engine, "before_cursor_execute", self._refuse_when_dead)

    def _refuse_when_dead(self, *_args: Any) -> None:
        if self.dead:
            raise Killed

    def kill(self) -> None:
        self.dead = True
        raise Killed

    def restart(self) -> None:
        self.dead = False


class CountingTarget(Target):
    """Kills the process after its ``kill_after``-th create landed (its answer received)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kill_after: int | None = None
        self.process: Process | None = None

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        written = super().create(call, marker, resolved)
        if self.process is not None and self.creates == self.kill_after:
            self.process.kill()
        return written


@pytest.fixture
def dst(engine) -> CountingTarget:
    return CountingTarget(context(engine, "dst"))


def calls_with_people(dst: CountingTarget) -> list[Call]:
    calls = []
    for i in range(CALLS):
        number = f"+1415555{i:04d}"
        dst.people.add(number)
        calls.append(make_call(i, to_number=PhoneNumber.parse(number)))
    return sorted(calls, key=lambda call: call.call_uid)  # the order a push takes them in


def push(engine, dst) -> Any:
    route = RouteConfig(source="src", targets=["dst"])
    return Pusher(engine, route, dst).run()


def states(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT call_uid, state FROM call_links")).all()
    return {str(uid): str(state) for uid, state in rows}


@contextmanager
def killed_after_intents(monkeypatch, process: Process, chunk: int) -> Iterator[None]:
    """Kill the process right after the ``chunk``-th durable intent commit of the push."""
    commits = [0]
    real = push_chunks.durable_transaction

    @contextmanager
    def durable(engine):
        with real(engine) as conn:
            yield conn
        commits[0] += 1
        if commits[0] == chunk:
            process.kill()

    monkeypatch.setattr(push_chunks, "durable_transaction", durable)
    yield
    monkeypatch.setattr(push_chunks, "durable_transaction", real)


def assert_each_call_once(engine, dst, calls) -> None:
    assert len(dst.records) == len(calls), "duplicates or lost calls in the target"
    assert all(dst.marked(call.call_uid) == 1 for call in calls)
    assert set(states(engine).values()) == {"done"}
    assert set(states(engine)) == {call.call_uid for call in calls}


def test_a_kill_between_the_intents_and_the_creates_leaves_the_chunk_in_doubt(
    engine, dst, monkeypatch
):
    calls = calls_with_people(dst)
    store(engine, *calls)
    process = Process(engine)
    with killed_after_intents(monkeypatch, process, chunk=2), pytest.raises(Killed):
        push(engine, dst)

    second = {c.call_uid for c in calls[CHUNK_SIZE : 2 * CHUNK_SIZE]}
    process.restart()
    found = states(engine)
    assert dst.creates == CHUNK_SIZE  # the first chunk only: the second one sent nothing
    assert {uid for uid, state in found.items() if state == "in_doubt"} == second
    assert len(found) == 2 * CHUNK_SIZE  # the third chunk was never reached

    again = push(engine, dst)

    assert again.adopted == 0  # the look-ups found nothing: certainly absent, so created
    assert again.created == CALLS - CHUNK_SIZE
    assert_each_call_once(engine, dst, calls)


def test_a_kill_after_some_creates_of_a_chunk_landed_adopts_them(engine, dst):
    calls = calls_with_people(dst)
    store(engine, *calls)
    dst.process = process = Process(engine)
    dst.kill_after = CHUNK_SIZE + 7  # seven creates of the second chunk landed
    with pytest.raises(Killed):
        push(engine, dst)

    process.restart()
    dst.process = None
    second = {c.call_uid for c in calls[CHUNK_SIZE : 2 * CHUNK_SIZE]}
    found = states(engine)
    # None of the second chunk's outcomes was written: all of it is in doubt.
    assert {uid for uid, state in found.items() if state == "in_doubt"} == second
    assert len(dst.records) == CHUNK_SIZE + 7

    again = push(engine, dst)

    assert again.adopted == 7  # found by their markers, not created again
    assert again.created == CALLS - CHUNK_SIZE - 7
    assert_each_call_once(engine, dst, calls)


def test_a_call_linked_earlier_in_the_chunk_no_longer_competes_for_a_twin(engine, dst):
    """Two source calls near two hand-logged records, in one chunk: the first takes the closer
    record; the second then takes the other (the first is held now), rather than losing it to
    the first as a better fit and being copied beside it."""
    first, second = sorted([make_call(1), make_call(2)], key=lambda call: call.call_uid)
    # first fits "t1" best (0 s) and "t2" (10 s); second fits "t2" (20 s) and "t1" (30 s).
    first = first.model_copy(update={"started_at": T0})
    second = second.model_copy(update={"started_at": T0 + timedelta(seconds=30)})
    logged = [
        make_call(
            90 + i,
            source=SourceIdentity(system="close", connection="dst", external_id=remote),
            started_at=T0 + timedelta(seconds=offset),
            to_number=PhoneNumber.parse(NUMBER),
        )
        for i, (remote, offset) in enumerate([("t1", 0), ("t2", 10)])
    ]
    store(engine, first, second, *logged)
    dst.people.add(NUMBER)

    stats = push(engine, dst)

    assert (stats.matched, stats.created) == (2, 0)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT call_uid, remote_id FROM call_links")).all()
    assert dict(rows) == {first.call_uid: "t1", second.call_uid: "t2"}


class StoppingTarget(CountingTarget):
    """A stop is requested once ``stop_after`` creates landed; counts marker look-ups."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop = threading.Event()
        self.stop_after: int | None = None
        self.lookups = 0

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        written = super().create(call, marker, resolved)
        if self.creates == self.stop_after:
            self.stop.set()
        return written

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        self.lookups += 1
        return super().find_by_marker(marker, call)


def test_a_stop_inside_a_chunk_records_its_unsent_creates_as_not_sent(engine):
    dst = StoppingTarget(context(engine, "dst"))
    calls = calls_with_people(dst)
    store(engine, *calls)
    dst.stop_after = 3
    route = RouteConfig(source="src", targets=["dst"])

    stopped = Pusher(engine, route, dst).run(dst.stop)

    assert stopped.interrupted and stopped.created == 3
    found = states(engine)
    assert list(found.values()).count("done") == 3
    assert list(found.values()).count("failed") == CHUNK_SIZE - 3  # claimed, certainly unsent
    dst.stop_after = None
    dst.stop.clear()

    again = push(engine, dst)

    assert dst.lookups == 0  # nothing was in doubt: no marker look-up was needed
    assert again.created == CALLS - 3
    assert_each_call_once(engine, dst, calls)
