"""End-to-end pulls of the Amplemarket connector against its emulator, through the engine.

Every test runs on both database backends. The emulator, the connector and the pacer share
one manual clock, so pacing and backoff cost no real time and the emulator's 500/minute
window is measured on the same clock the pacer uses.
"""

from __future__ import annotations

import math
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from connectors.amplemarket.connector import AmplemarketConnector
from connectors.amplemarket.emulator import AmplemarketEmulator
from connectors.base import Cursor
from connectors.emulation import EmulatorTransport, FaultKind, FaultPlan, ManualClock
from syncer.errors import AuthError
from syncer.mapping import MappingOverrides
from syncer.model import Call, Outcome, SequenceAction
from syncer.pull import PullResult, StreamStats, commit_page, pull
from syncer.store import repo
from tests.connectors.amplemarket.harness import CONNECTION, AmplemarketHarness

LIMIT_PER_MINUTE = 500


class Recorder(EmulatorTransport):
    """The emulator transport, noting (clock time, url, status) of every request."""

    def __init__(self, emulator: AmplemarketEmulator, clock: ManualClock) -> None:
        super().__init__(emulator)
        self.clock = clock
        self.log: list[tuple[float, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = self.clock.now().timestamp()
        try:
            response = super().handle_request(request)
        except httpx.TransportError:
            self.log.append((sent, str(request.url), 0))
            raise
        self.log.append((sent, str(request.url), response.status_code))
        return response

    def busiest_minute(self) -> int:
        times = sorted(sent for sent, _, _ in self.log)
        busiest, start = 0, 0
        for end, sent in enumerate(times):
            while sent - times[start] >= 60:
                start += 1
            busiest = max(busiest, end - start + 1)
        return busiest


def recorded(
    harness: AmplemarketHarness, engine: sa.Engine
) -> tuple[AmplemarketConnector, Recorder]:
    recorder = Recorder(harness.emulator, harness.clock)
    return AmplemarketConnector(harness.context(engine, transport=recorder)), recorder


def stored_calls(engine: sa.Engine) -> dict[str, Call]:
    stmt = sa.select(repo.calls_t.c.data, repo.calls_t.c.deleted_at).where(
        repo.calls_t.c.origin_connection == CONNECTION
    )
    with engine.connect() as conn:
        calls = [
            Call.model_validate({**row.data, "deleted_at": row.deleted_at})
            for row in conn.execute(stmt)
        ]
    return {call.source.external_id: call for call in calls}


def label(call: Call) -> str | None:
    return None if call.disposition is None else call.disposition.label


def account_ids(harness: AmplemarketHarness) -> set[str]:
    return {item.id for item in harness.emulator.store.calls.scan()}


def pull_until_complete(
    harness: AmplemarketHarness, engine: sa.Engine, runs: int = 12
) -> list[PullResult]:
    results = []
    for _ in range(runs):
        result = pull(engine, harness.connector(engine))
        results.append(result)
        if result.ok and result.streams["calls"].complete:
            return results
        harness.clock.advance(60)
    raise AssertionError(f"no complete pull in {runs} runs: {[r.error for r in results]}")


def cursor_of(engine: sa.Engine) -> repo.CursorState:
    with engine.connect() as conn:
        return repo.get_cursor(conn, CONNECTION, "calls")


def test_a_429_storm_loses_nothing_and_stays_under_the_limit(engine):
    faults = FaultPlan(seed=3, rate_limit=0.25)
    # Besides the random share, one page is refused five times in a row.
    faults.script(FaultKind.RATE_LIMIT, method="GET", path="^/calls$", skip=4, times=5)
    harness = AmplemarketHarness(faults=faults)
    harness.seed(2000)
    harness.settle()
    harness.transport = recorder = Recorder(harness.emulator, harness.clock)

    results = pull_until_complete(harness, engine)

    assert set(stored_calls(engine)) == account_ids(harness)
    assert harness.emulator.stats.statuses[429] >= 10
    assert recorder.busiest_minute() <= LIMIT_PER_MINUTE
    assert len(results) <= 2


def test_server_errors_end_runs_that_resume_where_they_stopped(engine):
    faults = FaultPlan(seed=11, server_error=0.08, malformed=0.05)
    # A 500 is not retried in-run (only 502/503/504 are): this one ends the first run.
    faults.script(FaultKind.SERVER_ERROR, method="GET", path="^/calls$", skip=3, status=500)
    harness = AmplemarketHarness(faults=faults)
    harness.seed(600)
    harness.settle()
    recorder = Recorder(harness.emulator, harness.clock)
    harness.transport = recorder

    results = pull_until_complete(harness, engine)

    assert any(not r.ok for r in results), "the fault plan should have ended a run"
    assert set(stored_calls(engine)) == account_ids(harness)
    assert cursor_of(engine).partial is None
    # Every aborted run resumed at its stored link: the walk began exactly once.
    first_pages = [
        url
        for _, url, status in recorder.log
        if urlsplit(url).path == "/calls"
        and "page[after]" not in parse_qs(urlsplit(url).query)
        and status == 200
    ]
    assert len(first_pages) == 1


def test_malformed_records_are_quarantined_and_the_rest_stored(engine):
    harness = AmplemarketHarness()
    harness.seed(100)
    negative = harness.add_call(duration=-5)
    sideways = harness.add_call(direction="sideways")
    odd_id = "0199ba5b-e20c-7dc1-9481-0000000000aa"
    harness.emulator.store.dispositions.put(
        odd_id, {"id": odd_id, "name": "Odd", "slug": "odd", "action": "teleport"}
    )
    odd = harness.add_call(disposition_id=odd_id)
    harness.settle()

    stats = pull(engine, harness.connector(engine)).streams["calls"]

    with engine.connect() as conn:
        quarantined = {row.record_key: row.reason for row in repo.open_quarantine(conn)}
    assert set(quarantined) == {negative, sideways, odd}
    assert "duration" in quarantined[negative]
    assert "sideways" in quarantined[sideways]
    assert "teleport" in quarantined[odd]
    assert stats.quarantined == 3 and stats.complete
    assert set(stored_calls(engine)) == account_ids(harness) - {negative, sideways, odd}


def test_a_call_edited_after_it_was_read_is_updated(engine):
    harness = AmplemarketHarness()
    harness.seed(200)
    harness.settle()
    pull(engine, harness.connector(engine))
    recent = harness.add_call()
    pull(engine, harness.connector(engine))
    oldest = min(account_ids(harness) - {recent})

    harness.clock.advance(600)
    harness.edit_call(recent)
    harness.edit_call(oldest)
    stats = pull(engine, harness.connector(engine)).streams["calls"]

    assert stats.stored == 1  # the window re-read the recent call; the old one is outside it
    assert stored_calls(engine)[recent].note == "edited in the UI (1)"
    assert stored_calls(engine)[oldest].note != "edited in the UI (2)"

    harness.clock.advance(harness.settings.sweep_interval.total_seconds())
    stats = pull(engine, harness.connector(engine)).streams["calls"]

    assert stats.stored == 1  # the sweep read everything, and only the edit was new
    assert stored_calls(engine)[oldest].note == "edited in the UI (2)"


def test_a_deleted_call_is_tombstoned_by_the_next_sweep(engine):
    harness = AmplemarketHarness()
    harness.seed(200)
    harness.settle()
    pull(engine, harness.connector(engine))
    gone = min(account_ids(harness))
    assert harness.emulator.delete_call(gone)

    assert pull(engine, harness.connector(engine)).streams["calls"].deleted == 0
    harness.clock.advance(harness.settings.sweep_interval.total_seconds())
    stats = pull(engine, harness.connector(engine)).streams["calls"]

    calls = stored_calls(engine)
    assert stats.deleted == 1
    assert calls[gone].deleted_at is not None
    assert [c for c in calls.values() if c.deleted_at is not None] == [calls[gone]]


def test_resume_after_a_crash_reads_only_the_pages_not_stored(engine):
    harness = AmplemarketHarness()
    harness.seed(300)
    harness.settle()
    pages = math.ceil(harness.account_calls() / harness.page_size())
    crashed = harness.connector(engine)
    stats = StreamStats()
    for _, page in zip(range(3), crashed.read("calls", Cursor()), strict=False):
        with engine.begin() as conn:
            commit_page(conn, crashed, "calls", page, stats)
    # The process dies here: the walk's generator is never resumed.
    harness.emulator.stats.reset()

    result = pull(engine, harness.connector(engine))

    assert result.ok and result.streams["calls"].complete
    assert harness.emulator.stats.by_route["GET /calls"] == pages - 3
    assert set(stored_calls(engine)) == account_ids(harness)
    completed = cursor_of(engine).completed
    assert completed is not None and completed["swept_at"] is not None


def test_a_stored_link_the_api_refuses_restarts_the_same_walk(engine):
    harness = AmplemarketHarness()
    harness.seed(100)
    harness.settle()
    signpost = harness.clock.now().isoformat()
    stale = {
        "v": 1,
        "next": "/calls?page[size]=20&page[after]=no-longer-a-cursor",
        "signpost": signpost,
        "start_from": None,
        "swept_at": signpost,
        "seen_since": signpost,
    }
    with engine.begin() as conn:
        repo.save_cursor(conn, CONNECTION, "calls", partial=stale)

    result = pull(engine, harness.connector(engine))

    assert result.ok and result.streams["calls"].complete
    assert harness.emulator.stats.statuses[400] == 1
    assert set(stored_calls(engine)) == account_ids(harness)


def test_late_calls_are_caught_by_the_window_or_else_the_sweep(engine):
    harness = AmplemarketHarness()
    harness.seed(100)
    harness.settle()
    pulled_at = harness.clock.now().replace(microsecond=0)
    pull(engine, harness.connector(engine))
    lookback = harness.settings.lookback
    # Shows up after the pull, started exactly one look-back before it (the window's edge:
    # the API's start_date_from is exclusive in the emulator, the strict reading).
    edge = harness.add_call(started_at=pulled_at - lookback)
    too_late = harness.add_call(started_at=pulled_at - lookback - timedelta(hours=1))

    pull(engine, harness.connector(engine))
    assert edge in stored_calls(engine)
    assert too_late not in stored_calls(engine)

    harness.clock.advance(harness.settings.sweep_interval.total_seconds())
    pull(engine, harness.connector(engine))
    assert too_late in stored_calls(engine)


class NoState:
    def get(self, keys):
        return {}


def test_pacing_keeps_a_long_walk_under_the_documented_limit():
    # No database: this is about the requests, and 500+ page commits would only cost time.
    harness = AmplemarketHarness(page_size=2)
    harness.seed(4000)
    harness.settle()
    harness.transport = recorder = Recorder(harness.emulator, harness.clock)
    unused = sa.create_engine("sqlite://")
    connector = AmplemarketConnector(harness.context(unused, state=NoState()))
    started = harness.clock.now()

    records = sum(len(page.records) for page in connector.read("calls", Cursor()))

    assert records == harness.account_calls()
    requests = len(recorder.log)
    assert requests > LIMIT_PER_MINUTE  # long enough for the limit to matter
    assert harness.emulator.stats.statuses[429] == 0
    settings = harness.settings
    assert recorder.busiest_minute() <= settings.rate_share * LIMIT_PER_MINUTE + settings.burst
    minimum = (requests - settings.burst) / settings.requests_per_second
    assert (harness.clock.now() - started).total_seconds() >= minimum * 0.99


def test_dispositions_are_fetched_once_and_name_outcome_and_sequence_action(engine):
    harness = AmplemarketHarness()
    harness.table = harness.table.with_overrides(
        MappingOverrides(outcome_by_disposition={"Left voicemail": Outcome.VOICEMAIL_LEFT})
    )
    harness.seed(300)
    harness.settle()
    connector = harness.connector(engine)

    pull(engine, connector)

    assert harness.emulator.stats.by_route["GET /calls/dispositions"] == 1
    calls = list(stored_calls(engine).values())
    labelled = {c.source.external_id: label(c) for c in calls if c.disposition is not None}
    assert labelled and all(labelled.values())
    finishing = {"Not interested", "Meeting booked", "Wrong number"}
    for call in calls:
        if call.disposition is None:
            assert call.sequence_action is None
            continue
        finishes = label(call) in finishing
        expected = SequenceAction.FINISH if finishes else SequenceAction.ADVANCE
        assert call.sequence_action is expected, call.disposition
    voicemails = [c for c in calls if label(c) == "Left voicemail"]
    assert voicemails and {c.outcome for c in voicemails} == {Outcome.VOICEMAIL_LEFT}

    # A disposition created after the list was fetched: asked for once more, by name.
    new_id = "0199ba5b-e20c-7dc1-9481-0000000000bb"
    harness.emulator.store.dispositions.put(
        new_id, {"id": new_id, "name": "Gatekeeper", "slug": "gatekeeper", "action": "complete"}
    )
    fresh = harness.add_call(disposition_id=new_id)
    pull(engine, connector)

    assert harness.emulator.stats.by_route["GET /calls/dispositions"] == 2
    assert label(stored_calls(engine)[fresh]) == "Gatekeeper"
    assert stored_calls(engine)[fresh].sequence_action is SequenceAction.FINISH


def test_a_revoked_key_stops_the_pull_with_an_auth_error(engine):
    harness = AmplemarketHarness()
    harness.seed(20)
    harness.settle()
    harness.connector(engine).check()
    harness.emulator.revoke_api_key(AmplemarketEmulator.DEMO_API_KEY)

    with pytest.raises(AuthError):
        harness.connector(engine).check()
    with pytest.raises(AuthError):
        pull(engine, harness.connector(engine))
    assert cursor_of(engine).completed is None


def test_a_network_outage_ends_the_run_cleanly_and_the_next_run_finishes(engine):
    faults = FaultPlan()
    # Every attempt at the third page times out (the shared client retries six times).
    faults.script(FaultKind.TIMEOUT, method="GET", path="^/calls$", skip=2, times=6)
    harness = AmplemarketHarness(faults=faults)
    harness.seed(300)
    harness.settle()

    first = pull(engine, harness.connector(engine))

    assert not first.ok and "ReadTimeout" in (first.error or "")
    assert first.streams == {} or not first.streams["calls"].complete
    partial = cursor_of(engine).partial
    assert partial is not None and "page[after]" in partial["next"]
    assert pull(engine, harness.connector(engine)).ok
    assert set(stored_calls(engine)) == account_ids(harness)
