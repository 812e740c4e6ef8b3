"""The backfill engine (``syncer/backfill.py``) on an in-memory source, on each backend: its
own cursor and lease, oldest window first, resume inside a window, and no deletion inferred."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Checkpoint, Connector, ConnectorContext, Cursor, JsonDict, Page
from syncer import mapping
from syncer.backfill import BadRangeError, Range, backfill_connection, parse_instant
from syncer.connections import DatabaseConnectorState
from syncer.model import Call
from syncer.store import leases, repo
from tests.engine.test_push import T0, make_call

DAY = timedelta(days=1)


class Source(Connector):
    """Calls every 6 h from T0; windows are served two records a page."""

    kind = "amplemarket"

    def __init__(self, context: ConnectorContext, calls: int = 24) -> None:
        super().__init__(context)
        self.calls = [make_call(n * 360) for n in range(calls)]  # make_call: T0 + n minutes
        self.asked: list[tuple[datetime, datetime, JsonDict | None]] = []

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        yield from ()

    def read_window(
        self, stream: str, since: datetime, until: datetime, cursor: JsonDict | None
    ) -> Iterator[Page]:
        self.asked.append((since, until, cursor))
        inside = [c for c in self.calls if since <= c.started_at < until]
        start = int(cursor["at"]) if cursor else 0
        for at in range(start, len(inside), 2):
            last = at + 2 >= len(inside)
            records = [{"n": c.source.external_id} for c in inside[at : at + 2]]
            yield Page(records, Checkpoint(partial=None if last else {"at": at + 2}))

    def to_call(self, record: JsonDict) -> Call:
        return next(c for c in self.calls if c.source.external_id == record["n"])

    def record_key(self, record: JsonDict) -> str:
        return str(record["n"])


@pytest.fixture
def source(engine) -> Source:
    context = ConnectorContext(
        name="src",
        settings=None,  # type: ignore[arg-type]
        table=mapping.load_tables()["amplemarket"],
        phone_region="US",
        state=DatabaseConnectorState(engine, "src"),
    )
    return Source(context)


def stored(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM calls")).scalar_one())


def test_windows_oldest_first_in_their_own_cursor(engine, source):
    with engine.begin() as conn:
        repo.save_cursor(conn, "src", "calls", completed={"live": 1}, partial=None)
    stats = backfill_connection(engine, source, T0 + DAY, T0 + 4 * DAY, DAY)
    assert stats.complete and (stats.windows, stats.windows_done) == (3, 3)
    assert [a[0] for a in source.asked] == [T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY]
    assert stored(engine) == 12  # four calls a day, three days
    with engine.connect() as conn:
        assert repo.get_cursor(conn, "src", "calls").completed == {"live": 1}
        done = repo.get_cursor(conn, "src", "backfill:calls")
    assert done.partial is None and done.completed["reached"] == (T0 + 4 * DAY).isoformat()


def test_a_stopped_backfill_resumes_at_the_page_it_reached(engine, source):
    stop = threading.Event()
    pages = []

    def after_page(stats) -> None:
        pages.append(stats.pull.pages)
        if stats.pull.pages == 3:  # inside the second window (two pages a window)
            stop.set()

    first = backfill_connection(
        engine, source, T0, T0 + 3 * DAY, DAY, stop=stop, on_page=after_page
    )
    assert not first.complete and stored(engine) == 6
    source.asked.clear()
    again = backfill_connection(engine, source, T0, None, DAY)
    assert again.complete and again.resumed_at == T0 + DAY
    assert source.asked[0] == (T0 + DAY, T0 + 2 * DAY, {"at": 2})  # no page read twice
    assert stored(engine) == 12


def test_two_backfills_of_one_connection_never_run_at_once(engine, source):
    with engine.begin() as conn:
        taken = leases.take(conn, "backfill:src", "someone-else", timedelta(minutes=5))
        assert taken is not None
    stats = backfill_connection(engine, source, T0, T0 + DAY, DAY)
    assert stats.busy and not stats.complete and source.asked == []


@pytest.mark.parametrize(
    ("since", "until"), [(T0, T0), (T0 + DAY, T0), (T0.replace(tzinfo=None), T0 + DAY)]
)
def test_a_range_that_makes_no_backfill_is_refused(since, until):
    with pytest.raises(BadRangeError):
        Range(since, until, DAY)


def test_dates_are_midnight_utc_and_instants_keep_their_offset():
    assert parse_instant("2026-01-05", "--since") == datetime(2026, 1, 5, tzinfo=UTC)
    moment = parse_instant("2026-01-05T10:00:00+02:00", "--since")
    assert moment == datetime(2026, 1, 5, 8, tzinfo=UTC)
    with pytest.raises(BadRangeError, match="--until"):
        parse_instant("yesterday", "--until")
