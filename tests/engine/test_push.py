"""The push engine against an in-memory target: the ledger makes writes exactly-once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import (
    CannotUpdate,
    Connector,
    ConnectorContext,
    Cursor,
    JsonDict,
    Page,
    Parked,
    Resolved,
    WriteOptions,
    WriteSupport,
    Written,
)
from syncer import mapping
from syncer.config import RouteConfig, RouteFilters, RouteWrite
from syncer.connections import DatabaseConnectorState
from syncer.errors import AmbiguousWriteError
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity
from syncer.push import Pusher
from syncer.store import leases, ledger, repo

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


class MemoryTarget(Connector):
    kind = "close"

    def __init__(self, context: ConnectorContext, *, can_update: bool = False) -> None:
        super().__init__(context)
        self.records: dict[str, JsonDict] = {}
        self.people = {"+14155550100"}
        self.lose_next_answer = False
        self.creates = 0
        self.write_support = WriteSupport(create=True, update=can_update, delete=True)

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        yield from ()

    def to_call(self, record: JsonDict) -> Call:
        raise NotImplementedError

    def record_key(self, record: JsonDict) -> str:
        return str(record["id"])

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        number = call.to_number.e164 if call.to_number else None
        if number not in self.people:
            return Parked(f"no person with {number}")
        return Resolved({"person": number})

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        self.creates += 1
        remote_id = f"r{self.creates}"
        self.records[remote_id] = {
            "id": remote_id,
            "marker": marker,
            "duration": call.duration_seconds,
        }
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise AmbiguousWriteError("connection dropped")
        return Written(remote_id)

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        return next((r["id"] for r in self.records.values() if r["marker"] == marker), None)

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        if not self.write_support.update:
            raise CannotUpdate("duration_seconds")
        self.records[remote_id]["duration"] = call.duration_seconds

    def delete(self, remote_id: str) -> None:
        del self.records[remote_id]


def make_call(n: int, **fields) -> Call:
    base = {
        "source": SourceIdentity(system="amplemarket", connection="src", external_id=f"s{n}"),
        "started_at": T0 + timedelta(minutes=n),
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "to_number": PhoneNumber.parse("+14155550100"),
        "duration_seconds": 60,
        "user": Party(email="ana@callsync-demo.test"),
    }
    return Call(**{**base, **fields})


@pytest.fixture
def target(engine) -> MemoryTarget:
    context = ConnectorContext(
        name="dst",
        settings=None,  # type: ignore[arg-type]
        table=mapping.load_tables()["close"],
        phone_region="US",
        state=DatabaseConnectorState(engine, "dst"),
    )
    return MemoryTarget(context)


def store(engine, *calls: Call) -> None:
    with engine.begin() as conn:
        repo.upsert_calls(conn, list(calls))
        repo.upsert_source_records(conn, list(calls))


def push(engine, target, **route) -> object:
    return Pusher(engine, RouteConfig(source="src", targets=["dst"], **route), target).run()


def link(engine, call):
    with engine.connect() as conn:
        return ledger.get(conn, call.call_uid, "dst")


def test_each_call_is_written_once(engine, target):
    calls = [make_call(i) for i in range(5)]
    store(engine, *calls)
    assert push(engine, target).created == 5
    assert push(engine, target).created == 0
    assert target.creates == 5
    assert all(link(engine, c).state == "done" for c in calls)


def test_a_lost_answer_is_looked_up_and_adopted(engine, target):
    call = make_call(1)
    store(engine, call)
    target.lose_next_answer = True
    assert push(engine, target).created == 0
    assert link(engine, call).state == "in_doubt"
    stats = push(engine, target)
    assert (stats.adopted, stats.created, target.creates) == (1, 0, 1)
    assert link(engine, call).remote_id == "r1"


def test_a_crash_before_the_request_creates_after_checking(engine, target):
    call = make_call(1)
    store(engine, call)
    with engine.begin() as conn:  # intent recorded, then the process died
        fence = leases.take(conn, "push:dst", "dead-worker", timedelta(minutes=1))
        ledger.claim(conn, fence, call.call_uid, "dst", call.call_uid, call.content_hash())
        leases.release(conn, fence)  # its lease expired
    stats = push(engine, target)
    assert (stats.adopted, stats.created) == (0, 1)


def test_parked_until_the_person_exists(engine, target):
    call = make_call(1, to_number=PhoneNumber.parse("+14155550199"))
    store(engine, call)
    assert push(engine, target).parked == 1
    assert link(engine, call).reason == "no person with +14155550199"
    target.people.add("+14155550199")
    assert push(engine, target).created == 1


def test_a_change_is_updated_where_the_target_allows(engine, target):
    target.write_support = WriteSupport(create=True, update=True, delete=True)
    call = make_call(1)
    store(engine, call)
    push(engine, target)
    changed = make_call(1, duration_seconds=99)
    store(engine, changed)
    assert push(engine, target).updated == 1
    assert target.records["r1"]["duration"] == 99
    assert push(engine, target).updated == 0


def test_a_change_the_target_cannot_take_is_reported(engine, target):
    call = make_call(1)
    store(engine, call)
    push(engine, target)
    store(engine, make_call(1, duration_seconds=99))
    assert push(engine, target).stale == 1
    row = link(engine, call)
    assert (row.state, row.reason) == ("stale", "cannot update in target: duration_seconds")
    assert push(engine, target).stale == 0  # reported once, not every run


def test_recreate_when_the_route_opts_in(engine, target):
    call = make_call(1)
    store(engine, call)
    push(engine, target)
    store(engine, make_call(1, duration_seconds=99))
    stats = push(engine, target, write=RouteWrite(recreate_on_change=True))
    assert stats.created == 1
    assert list(target.records) == ["r2"]
    assert target.records["r2"]["duration"] == 99


def test_filters_decide_what_a_route_carries(engine, target):
    store(
        engine,
        make_call(1, outcome=Outcome.NO_ANSWER),
        make_call(2),
        make_call(3, duration_seconds=3),
    )
    stats = push(
        engine, target, filters=RouteFilters(outcomes=[Outcome.CONNECTED], min_duration_seconds=10)
    )
    assert (stats.created, stats.skipped) == (1, 2)


def test_an_independently_logged_twin_is_linked_not_copied(engine, target):
    call = make_call(1)
    twin = make_call(
        1,
        source=SourceIdentity(system="close", connection="dst", external_id="acti_9"),
        started_at=call.started_at + timedelta(seconds=12),
        duration_seconds=62,
    )
    store(engine, call, twin)
    stats = push(engine, target)
    assert (stats.matched, stats.created, target.creates) == (1, 0, 0)
    assert link(engine, call).remote_id == "acti_9"


def test_calls_callsync_wrote_are_never_echoed_back(engine, target):
    call = make_call(1)
    store(engine, call)
    push(engine, target)
    # the target's copy, read back from "dst", routed dst -> src must not be written again
    copy = make_call(1, source=SourceIdentity(system="close", connection="dst", external_id="r1"))
    store(engine, copy)
    back = Pusher(engine, RouteConfig(source="dst", targets=["src"]), target).run()
    assert back.created == 0


def test_status_shows_waiting_writes_with_their_reasons(engine, target, tmp_path):
    from syncer import status
    from syncer.config import load_config

    call = make_call(1, to_number=PhoneNumber.parse("+14155550199"))
    store(engine, call)
    push(engine, target)
    config_file = tmp_path / "c.yaml"
    config_file.write_text("connections:\n  dst:\n    kind: close\n    api_key: k\n")
    report = status.collect(engine, load_config(config_file, env={}))
    entry = next(c for c in report["connections"] if c["name"] == "dst")
    assert entry["writes"] == {"parked": 1}
    assert entry["waiting_writes"][0]["reason"] == "no person with +14155550199"
