"""A Hypothesis state machine of push against an in-memory target: random interleavings of new
calls, pushes, lost answers, ambiguous and refused creates, crashes before and after the request,
copies pulled back, edits, deletions and hand-logged twins. After every step: never two remote
records of one call, never a write onto a twin, never a copy beside a twin logged before it.
At the end, with the faults gone, a few pushes converge and a further push writes nothing."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from connectors.base import Cursor
from syncer.errors import AmbiguousWriteError, VendorError
from syncer.pull import StreamStats, commit_page
from syncer.store import database, repo
from tests.engine.test_exactly_once import Echo, Target, context, run, twin_of
from tests.engine.test_push import make_call, store

CALLS = st.integers(min_value=0, max_value=5)


class Crash(BaseException):
    """The process dies here (not an error the engine may catch)."""


class PushMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp()
        self.engine = database.create_engine(f"sqlite:///{Path(self.directory) / 'c.db'}")
        database.upgrade(self.engine)
        self.target = Target(context(self.engine, "dst"))
        self.calls: dict[int, int] = {}  # n -> version (duration)
        self.deleted: set[int] = set()
        self.twins_first: set[str] = set()  # calls whose twin was in the target before a copy
        self.twin_ids: set[str] = set()

    def call(self, n: int, duration: int | None = None):
        return make_call(n * 10, duration_seconds=duration or self.calls.get(n, 60))

    def teardown(self) -> None:
        self.engine.dispose()

    # --- what happens ------------------------------------------------------------------------

    @rule(n=CALLS)
    def new_call(self, n: int) -> None:
        if n not in self.calls:
            self.calls[n] = 60
            store(self.engine, self.call(n))

    @rule(n=CALLS)
    def edit(self, n: int) -> None:
        if n in self.calls and n not in self.deleted:
            self.calls[n] += 1
            store(self.engine, self.call(n))

    @rule(n=CALLS)
    def delete(self, n: int) -> None:
        if n in self.calls:
            self.deleted.add(n)
            with self.engine.begin() as conn:
                repo.mark_deleted(conn, "src", [self.call(n).source.external_id])

    @rule(n=CALLS)
    def twin_appears(self, n: int) -> None:
        call = self.call(n)
        if n not in self.calls or self.target.marked(call.call_uid):
            return
        remote = f"hand-{n}"
        if remote in self.twin_ids:
            return
        self.twin_ids.add(remote)
        self.twins_first.add(call.call_uid)
        self.target.records[remote] = {"id": remote, "marker": None, "duration": 60}
        store(self.engine, twin_of(call, "dst", remote, started_at=call.started_at))

    @rule(
        fault=st.sampled_from(
            ["lost answer", "5xx before commit", "refused", "crash after send", "crash before"]
        )
    )
    def next_create_fails(self, fault: str) -> None:
        errors = {
            "lost answer": AmbiguousWriteError("dropped after commit"),
            "5xx before commit": AmbiguousWriteError("answered 500"),
            "refused": VendorError("close", 400, "validation"),
            "crash after send": Crash(),
            "crash before": Crash(),
        }
        self.target.create_failures = [errors[fault]]
        self.target.commit_before_failing = fault in ("lost answer", "crash after send")

    @rule()
    def push(self) -> None:
        with contextlib.suppress(Crash):  # a dead process's lease expires; the next run takes it
            run(self.engine, self.target)
        self._time_passes()

    @rule()
    def pull_back(self) -> None:
        records = [
            {"id": r["id"], "marker": r["marker"]}
            for r in self.target.records.values()
            if r["id"] not in self.twin_ids
        ]
        if not records:
            return
        reader = Echo(context(self.engine, "dst"), records)
        with self.engine.begin() as conn:
            commit_page(conn, reader, "calls", next(reader.read("calls", Cursor())), StreamStats())

    def _time_passes(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("UPDATE call_links SET next_attempt_at = NULL"))
            conn.execute(sa.text("DELETE FROM leases"))

    # --- what must always hold ------------------------------------------------------------------

    @invariant()
    def never_two_records_of_one_call(self) -> None:
        for n in self.calls:
            assert self.target.marked(self.call(n).call_uid) <= 1

    @invariant()
    def never_a_write_onto_a_twin(self) -> None:
        assert not set(self.target.updated) & self.twin_ids

    @invariant()
    def never_a_copy_beside_a_twin_logged_first(self) -> None:
        for uid in self.twins_first:
            assert self.target.marked(uid) == 0, uid

    def converges(self) -> None:
        self.target.create_failures = []
        for _ in range(3):
            self.push()
        for n in self.calls:
            if n in self.deleted:
                continue
            uid = self.call(n).call_uid
            assert self.target.marked(uid) + (uid in self.twins_first) == 1, uid
        before = (self.target.creates, len(self.target.updated))
        self.push()
        assert (self.target.creates, len(self.target.updated)) == before


class Converging(PushMachine):
    def teardown(self) -> None:
        try:
            self.converges()
        finally:
            super().teardown()


Converging.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_push_stays_exactly_once_under_random_interleavings = Converging.TestCase
