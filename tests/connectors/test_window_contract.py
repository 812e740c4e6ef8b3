"""The backfill read contract (``Connector.read_window``, connectors/base.py), on every
connector through its emulator: a window holds exactly the calls that started in it, every
partial checkpoint resumes it without a gap, and a time-filtering vendor spends no request
on calls outside the window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from connectors.base import Connector
from syncer.http.client import REQUESTS_SENT
from syncer.pull import pull


def window_calls(connector: Connector, since: datetime, until: datetime, cursor=None):
    """(external id -> start) of every record read, and per page its ids and partial."""
    found, pages = {}, []
    for stream in connector.window_streams:
        for page in connector.read_window(stream, since, until, cursor):
            assert page.unseen_since is None  # a window proves no deletion
            calls = [connector.to_call(record) for record in page.records]
            found.update({call.source.external_id: call.started_at for call in calls})
            pages.append(({c.source.external_id for c in calls}, page.checkpoint.partial))
    return found, pages


def all_calls(harness, engine) -> dict[str, datetime]:
    """(external id -> start) of every live call a full pull stores: a real pull, since a
    connector may need its stored state between pages (Pipedrive reads other users' calls
    once it knows the token's user)."""
    assert pull(engine, harness.connector(engine)).ok
    connector = harness.connector(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT raw FROM source_records WHERE deleted_at IS NULL"))
        raws = [row.raw if isinstance(row.raw, dict) else json.loads(row.raw) for row in rows]
    calls = [connector.to_call(raw) for raw in raws]
    return {call.source.external_id: call.started_at for call in calls}


def test_a_window_holds_exactly_the_calls_started_in_it(harness, engine):
    harness.seed(160)
    harness.settle()
    every = all_calls(harness, engine)
    starts = sorted(every.values())
    since = starts[len(starts) // 4].replace(microsecond=0)
    until = starts[3 * len(starts) // 4].replace(microsecond=0) + timedelta(seconds=1)
    expected = {key for key, start in every.items() if since <= start < until}
    found, pages = window_calls(harness.connector(engine), since, until)
    assert set(found) == expected
    assert all(since <= start < until for start in found.values())
    assert pages[-1][1] is None  # the last page closes the window
    seen: set[str] = set()
    for keys, partial in pages[:-1]:  # every checkpoint resumes the window with no gap
        seen |= keys
        rest, _ = window_calls(harness.connector(engine), since, until, partial)
        assert seen | set(rest) == expected


def test_a_window_without_calls_costs_at_most_one_request(harness, engine):
    harness.seed(60)
    harness.settle()
    connector = harness.connector(engine)
    if not connector.window_filter:
        return  # the vendor cannot filter by time: one walk over the list (see its module)
    connector.check()  # credentials first (Outreach exchanges its token): not a window cost
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    sent = REQUESTS_SENT.sent
    found, _ = window_calls(connector, long_ago, long_ago + timedelta(days=7))
    assert found == {}
    assert REQUESTS_SENT.sent - sent <= 1
