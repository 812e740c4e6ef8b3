"""One contract suite, run against every connector through its emulator harness.

It checks the promises of the read contract (connectors/base.py): two sequential reads (the
second finds nothing new), every checkpoint is a valid resume point (no gap), a far-future
cursor reads nothing, pagination ends, every record maps to a Call with a unique identity;
and the cost promises: a first pull costs the documented minimum, an idle poll a constant.
"""

from __future__ import annotations

from connectors.base import Checkpoint, Connector, Cursor
from syncer.pull import pull


def read_all(
    connector: Connector, stream: str, cursor: Cursor
) -> list[tuple[list[str], Checkpoint]]:
    pages = []
    for page in connector.read(stream, cursor):
        pages.append(([connector.record_key(r) for r in page.records], page.checkpoint))
    return pages


def test_two_sequential_reads(harness, engine):
    harness.seed(120)
    harness.settle()
    first = pull(engine, harness.connector(engine))
    assert first.ok, first.error
    assert sum(s.stored for s in first.streams.values()) > 0
    second = pull(engine, harness.connector(engine))
    assert second.ok, second.error
    assert sum(s.stored for s in second.streams.values()) == 0


def test_every_checkpoint_is_a_resume_point(harness, engine):
    harness.seed(150)
    harness.settle()
    connector = harness.connector(engine)
    for stream in connector.streams:
        pages = read_all(connector, stream, Cursor())
        everything = {key for keys, _ in pages for key in keys}
        completed = None
        for index, (_, checkpoint) in enumerate(pages):
            completed = checkpoint.completed or completed
            if checkpoint.partial is None:
                continue
            before = {key for keys, _ in pages[: index + 1] for key in keys}
            resumed = read_all(
                harness.connector(engine), stream, Cursor(completed, checkpoint.partial)
            )
            after = {key for keys, _ in resumed for key in keys}
            missing = everything - before - after
            assert not missing, (
                f"{stream}: resuming after page {index} misses {sorted(missing)[:5]}"
            )


def test_far_future_cursor_reads_nothing(harness, engine):
    harness.seed(60)
    harness.settle()
    connector = harness.connector(engine)
    for stream in connector.streams:
        pages = read_all(connector, stream, harness.far_future_cursor(stream))
        assert [key for keys, _ in pages for key in keys] == []


def test_pagination_ends_and_identities_are_unique(harness, engine):
    harness.seed(130)
    harness.settle()
    connector = harness.connector(engine)
    for stream in connector.streams:
        seen: set[str] = set()
        pages = list(connector.read(stream, Cursor()))
        assert pages, f"{stream}: no page at all"
        assert pages[-1].checkpoint.partial is None
        for page in pages:
            for record in page.records:
                call = connector.to_call(record)
                assert call.source.external_id
                assert call.source.connection == connector.context.name
                assert call.call_uid not in seen or stream != connector.streams[0]
                seen.add(call.call_uid)


def test_full_pull_costs_the_documented_minimum(harness, engine):
    calls = 2500
    harness.seed(calls)
    harness.settle()
    harness.emulator.stats.reset()
    assert pull(engine, harness.connector(engine)).ok
    assert harness.emulator.stats.total <= harness.full_pull_cost(calls), dict(
        harness.emulator.stats.by_route
    )


def test_idle_poll_costs_a_constant(harness, engine):
    for calls in (50, 1500):
        harness.seed(calls)
        harness.settle()
        assert pull(engine, harness.connector(engine)).ok
        harness.settle()
        harness.emulator.stats.reset()
        assert pull(engine, harness.connector(engine)).ok
        assert harness.emulator.stats.total <= harness.idle_poll_cost(), dict(
            harness.emulator.stats.by_route
        )
