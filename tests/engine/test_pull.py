"""The pull engine with a scripted connector: per-page transactions, resume, quarantine,
deletions, leases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import Checkpoint, Connector, ConnectorContext, Cursor, JsonDict, Page
from syncer import mapping, processes
from syncer.connections import DatabaseConnectorState
from syncer.errors import MappingFailure
from syncer.model import Call, Outcome, SourceIdentity
from syncer.pull import LeaseBusyError, pull, pull_stream
from syncer.store import leases, repo, runs

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


class ScriptedConnector(Connector):
    """Serves ``records`` in pages of ``size``; the cursor is the index of the next record."""

    kind = "close"

    def __init__(self, context: ConnectorContext, records: list[JsonDict], size: int = 2) -> None:
        super().__init__(context)
        self.records = records
        self.size = size
        self.crash_after_pages: int | None = None
        self.deleted: list[str] = []
        self.sweep_since: datetime | None = None

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        start = (cursor.partial or {}).get("next", (cursor.completed or {}).get("next", 0))
        for served, index in enumerate(range(start, len(self.records), self.size)):
            if self.crash_after_pages is not None and served == self.crash_after_pages:
                raise RuntimeError("process killed")
            end = index + self.size
            last = end >= len(self.records)
            checkpoint = Checkpoint(
                partial=None if last else {"next": end},
                completed={"next": len(self.records)} if last else None,
            )
            yield Page(
                self.records[index:end],
                checkpoint,
                deleted=self.deleted if last else (),
                unseen_since=self.sweep_since if last else None,
                state={"last_page": {"index": index}},
            )

    def to_call(self, record: JsonDict) -> Call:
        if record.get("outcome") == "teleported":
            raise MappingFailure("unmapped outcome 'teleported'")
        return Call(
            source=SourceIdentity(
                system="close",
                connection=self.context.name,
                external_id=record["id"],
                source_updated_at=T0,
            ),
            started_at=T0 + timedelta(minutes=record.get("minute", 0)),
            outcome=Outcome(record.get("outcome", "connected")),
            raw=record,
        )

    def record_key(self, record: JsonDict) -> str:
        return str(record["id"])


def make(engine, records, size=2) -> ScriptedConnector:
    context = ConnectorContext(
        name="close",
        settings=None,  # type: ignore[arg-type]
        table=mapping.load_tables()["close"],
        phone_region="US",
        state=DatabaseConnectorState(engine, "close"),
    )
    return ScriptedConnector(context, records, size)


def records(n: int) -> list[JsonDict]:
    return [{"id": f"acti_{i}", "minute": i} for i in range(n)]


def stored_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return {row.origin_external_id for row in conn.execute(repo.calls_t.select())}


def test_full_pull_stores_everything_and_completes_the_cursor(engine):
    result = pull(engine, make(engine, records(5)))
    assert result.ok
    stats = result.streams["calls"]
    assert (stats.pages, stats.stored, stats.complete) == (3, 5, True)
    assert stored_ids(engine) == {f"acti_{i}" for i in range(5)}
    with engine.connect() as conn:
        cursor = repo.get_cursor(conn, "close", "calls")
        assert (cursor.completed, cursor.partial) == ({"next": 5}, None)
        assert repo.get_state(conn, "close", ["last_page"]) == {"last_page": {"index": 4}}
        assert runs.last_runs(conn)["close"].status == "ok"


def test_crash_between_pages_resumes_without_gap_or_rereading_committed_pages(engine):
    connector = make(engine, records(6))
    connector.crash_after_pages = 2
    with pytest.raises(RuntimeError, match="killed"):
        pull(engine, connector)
    assert stored_ids(engine) == {"acti_0", "acti_1", "acti_2", "acti_3"}
    with engine.connect() as conn:
        cursor = repo.get_cursor(conn, "close", "calls")
        assert (cursor.completed, cursor.partial) == (None, {"next": 4})
        assert runs.last_runs(conn)["close"].status == "failed"
    connector.crash_after_pages = None
    stats = pull(engine, connector).streams["calls"]
    assert stats.records == 2  # only the page that was never committed
    assert stored_ids(engine) == {f"acti_{i}" for i in range(6)}


def test_second_pull_of_unchanged_records_writes_nothing(engine):
    connector = make(engine, records(4))
    pull(engine, connector)
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"next": 0})
    stats = pull(engine, connector).streams["calls"]
    assert (stats.stored, stats.unchanged) == (0, 4)


def test_a_bad_record_is_quarantined_and_the_page_goes_on(engine):
    data = records(4)
    data[1]["outcome"] = "teleported"
    data[2]["minute"] = "not a number"
    stats = pull(engine, make(engine, data)).streams["calls"]
    assert (stats.stored, stats.quarantined) == (2, 2)
    with engine.connect() as conn:
        rows = {row.record_key: row.reason for row in repo.open_quarantine(conn, "close")}
    assert rows["acti_1"] == "unmapped outcome 'teleported'"
    assert rows["acti_2"].startswith("invalid record:")
    # fixed at the source: the next read resolves the quarantine entry
    data[1]["outcome"] = "busy"
    data[2]["minute"] = 2
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"next": 0})
    pull(engine, make(engine, data))
    with engine.connect() as conn:
        assert repo.quarantine_counts(conn) == {}


def test_deletions_are_tombstones(engine):
    connector = make(engine, records(3))
    pull(engine, connector)
    connector.deleted = ["acti_1"]
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"next": 0})
    assert pull(engine, connector).streams["calls"].deleted == 1
    with engine.connect() as conn:
        gone = repo.load_call(
            conn,
            Call.model_validate(
                {
                    "source": {"system": "close", "connection": "close", "external_id": "acti_1"},
                    "started_at": T0,
                }
            ).call_uid,
        )
    assert gone is not None
    assert gone.deleted_at is not None


def test_full_sweep_tombstones_what_it_did_not_see(engine):
    connector = make(engine, records(4))
    pull(engine, connector)
    sweep_start = datetime.now(UTC)
    connector.records = [r for r in records(4) if r["id"] != "acti_2"]
    connector.sweep_since = sweep_start
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"next": 0})
    assert pull(engine, connector).streams["calls"].deleted == 1


def test_a_stream_held_by_another_worker_is_not_pulled(engine):
    with engine.begin() as conn:
        leases.take(conn, "pull:close:calls", "someone-else", timedelta(minutes=10))
    with pytest.raises(LeaseBusyError) as busy:
        pull_stream(engine, make(engine, records(2)), "calls")
    assert busy.value.holder == processes.me()  # this test process holds it: alive
    assert stored_ids(engine) == set()


def test_a_tombstoned_record_seen_again_is_alive(engine):
    connector = make(engine, records(3))
    pull(engine, connector)
    connector.deleted = ["acti_1"]
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"next": 0})
    pull(engine, connector)
    connector.deleted = []
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"next": 0})
    pull(engine, connector)
    with engine.connect() as conn:
        rows = {
            row.origin_external_id: row.deleted_at for row in conn.execute(repo.calls_t.select())
        }
    assert rows["acti_1"] is None


def test_a_record_that_turns_malformed_is_not_swept_away(engine):
    connector = make(engine, records(3))
    pull(engine, connector)
    connector.records[1]["outcome"] = "teleported"
    connector.sweep_since = datetime.now(UTC)
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"next": 0})
    stats = pull(engine, connector).streams["calls"]
    assert (stats.quarantined, stats.deleted) == (1, 0)


def test_the_page_hook_is_told_the_pulls_totals_after_every_stored_page(engine):
    told = []
    connector = make(engine, records(5))

    def on_page(at):
        with engine.connect() as conn:  # told after the page's commit: it is there to read
            told.append((at, len(list(conn.execute(repo.calls_t.select())))))

    pull(engine, connector, on_page=on_page)
    assert [(at.connection, at.stream, at.read, at.stored) for at, _ in told] == [
        ("close", "calls", 2, 2),
        ("close", "calls", 4, 4),
        ("close", "calls", 5, 5),
    ]
    assert [stored for _, stored in told] == [2, 4, 5]
    assert all(at.requests == 0 for at, _ in told)  # a scripted connector sends nothing
