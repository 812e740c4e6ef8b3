"""End-to-end pulls of the Outreach connector against its emulator (both database backends).

Faults, token expiry, rate limits, edits, deletions and crashes happen on the emulator's
manual clock; every wait advances that clock instead of sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl

import httpx

from connectors.base import Cursor
from connectors.emulation import FaultKind, FaultPlan
from connectors.outreach.cursor import parse_time
from connectors.outreach.emulator import OutreachEmulator
from syncer.pull import PullResult, StreamStats, commit_page, pull
from tests.connectors.outreach.harness import OutreachHarness, make_harness

CALLS = "GET /api/v2/calls"
TOKEN = "POST /oauth/token"


class Wire(httpx.BaseTransport):
    """Watches (and may alter) what passes between the connector and the emulator."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        before: Callable[[httpx.Request], None] | None = None,
        after: Callable[[httpx.Request, httpx.Response], httpx.Response] | None = None,
    ) -> None:
        self.inner, self.before, self.after = inner, before, after
        self.hosts: list[str] = []
        self.token_forms: list[dict[str, str]] = []  # successful token exchanges

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        if self.before is not None:
            self.before(request)
        response = self.inner.handle_request(request)
        if request.url.path == "/oauth/token" and response.status_code == 200:
            self.token_forms.append(dict(parse_qsl(request.read().decode())))
        return response if self.after is None else self.after(request, response)


def watched(harness: OutreachHarness, **hooks) -> list[Wire]:
    wires: list[Wire] = []

    def wrap(transport: httpx.BaseTransport) -> httpx.BaseTransport:
        wires.append(Wire(transport, **hooks))
        return wires[-1]

    harness.wrap = wrap
    return wires


def pull_until_done(harness: OutreachHarness, engine, runs: int = 30) -> list[PullResult]:
    """Scheduled runs until one ends cleanly (a transient error ends a run, not the sync)."""
    results = []
    for _ in range(runs):
        results.append(pull(engine, harness.connector(engine)))
        if results[-1].ok:
            return results
        harness.clock.advance(60)
    raise AssertionError(f"no clean run in {runs}: {results[-1].error}")


def synced(harness: OutreachHarness, engine) -> None:
    assert harness.stored_ids(engine) == harness.vendor_ids()


# --- faults and limits --------------------------------------------------------------------


def test_a_storm_of_429s_and_5xx_loses_nothing(engine):
    faults = FaultPlan(seed=11, rate_limit=0.25, server_error=0.15)
    harness = make_harness(faults=faults, settings={"page_size": 20})
    harness.seed(200)
    harness.settle()
    pull_until_done(harness, engine)  # a 500 (not retried) ends a run; the next resumes
    synced(harness, engine)
    statuses = harness.emulator.stats.statuses
    assert statuses[429] > 0
    assert sum(statuses[code] for code in (500, 502, 503, 504)) > 0


def test_pacing_stays_under_the_limit_instead_of_bouncing_off_it(engine):
    # 150 requests per 100 s is 5,400/hour: above callsync's default half of 10,000/hour, and
    # small enough for a test to reach in a few hundred requests.
    limits = {"rate_limit": 150, "rate_window": 100, "token_mint_interval": 0}
    harness = make_harness(tunables=limits, settings={"page_size": 5})
    harness.seed(500)
    harness.settle()
    start = harness.clock.now()
    connector = harness.connector(engine)
    read = {
        connector.record_key(r) for page in connector.read("calls", Cursor()) for r in page.records
    }
    assert read == harness.vendor_ids()
    assert harness.emulator.stats.statuses[429] == 0
    requests = harness.emulator.stats.total
    assert requests > 100
    # Spaced out by the pacer, not by the vendor: at rate_share (1/2) of 10,000/hour.
    elapsed = (harness.clock.now() - start).total_seconds()
    assert elapsed >= (requests - 51) / (4950 / 3600)  # the first 50 go at once (burst)


def test_a_truncated_body_is_asked_for_again(engine):
    harness = make_harness(settings={"page_size": 20})
    harness.seed(50)
    harness.settle()
    harness.faults.script(FaultKind.MALFORMED, method="GET", path="^/api/v2/calls$", skip=1)
    assert pull(engine, harness.connector(engine)).ok
    synced(harness, engine)
    assert harness.emulator.stats.by_route[CALLS] == 3 + 1


def test_links_next_is_sent_to_the_configured_origin_only(engine):
    def elsewhere(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        body = json.loads(response.read())
        link = body.get("links", {}).get("next")
        if link:
            body["links"]["next"] = link.replace("https://api.outreach.io", "https://evil.test")
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        return httpx.Response(response.status_code, headers=headers, json=body)

    harness = make_harness(settings={"page_size": 20})
    wires = watched(harness, after=elsewhere)
    harness.seed(50)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    synced(harness, engine)
    assert {host for wire in wires for host in wire.hosts} == {"api.outreach.io"}
    assert harness.emulator.stats.by_route[CALLS] == 3


# --- OAuth ----------------------------------------------------------------------------------


def test_token_expiry_mid_pagination_rotates_and_never_respends(engine):
    harness = make_harness(settings={"page_size": 20})
    wires = watched(harness)
    harness.seed(90)
    harness.settle()
    harness.faults.script(FaultKind.EXPIRE_TOKEN, method="GET", path="^/api/v2/calls$", skip=2)
    assert pull(engine, harness.connector(engine)).ok
    synced(harness, engine)
    assert harness.emulator.stats.statuses[401] == 1  # refreshed once, then the retry passed
    spent = [form["refresh_token"] for wire in wires for form in wire.token_forms]
    assert spent[0] == OutreachEmulator.DEMO_REFRESH_TOKEN
    assert len(spent) == 2 and len(set(spent)) == 2
    # The rotated token was stored before use: after the next expiry a new connector spends
    # the newest one (an old one would be invalid_grant and fail the run).
    harness.emulator.expire_tokens()
    harness.add_call()
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    spent = [form["refresh_token"] for wire in wires for form in wire.token_forms]
    assert len(spent) == 3 and len(set(spent)) == 3
    synced(harness, engine)


def test_tokens_are_refreshed_before_they_expire(engine):
    harness = make_harness(tunables={"access_token_ttl": 900}, settings={"page_size": 10})

    def slow(request: httpx.Request) -> None:
        if request.url.path == "/api/v2/calls":
            harness.clock.advance(100)  # each page takes a while: the token ages mid-walk

    wires = watched(harness, before=slow)
    harness.seed(100)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    synced(harness, engine)
    assert harness.emulator.stats.statuses[401] == 0
    assert len([form for wire in wires for form in wire.token_forms]) == 2


# --- the cursor strategy ---------------------------------------------------------------------


def test_resume_after_a_crash_mid_pull_rereads_nothing(engine):
    harness = make_harness(settings={"page_size": 20})
    harness.seed(90)
    harness.settle()
    connector = harness.connector(engine)
    pages = connector.read("calls", Cursor())
    for _ in range(2):  # two pages stored, then the process dies
        page = next(pages)  # as the engine does: read outside the page's transaction
        with engine.begin() as conn:
            commit_page(conn, connector, "calls", page, StreamStats())
    pages.close()
    connector.close()
    assert len(harness.stored_ids(engine)) == 40
    assert harness.cursor(engine).partial is not None
    harness.emulator.stats.reset()
    assert pull(engine, harness.connector(engine)).ok
    synced(harness, engine)
    assert harness.emulator.stats.by_route[CALLS] == 3  # pages 3 to 5 only
    assert harness.cursor(engine).partial is None


def test_a_server_error_ends_the_run_and_the_next_resumes(engine):
    harness = make_harness(settings={"page_size": 20})
    harness.seed(90)
    harness.settle()
    harness.faults.script(
        FaultKind.SERVER_ERROR, method="GET", path="^/api/v2/calls$", skip=2, status=500
    )
    first = pull(engine, harness.connector(engine))
    assert not first.ok and "500" in (first.error or "")
    assert len(harness.stored_ids(engine)) == 40
    harness.emulator.stats.reset()
    assert pull(engine, harness.connector(engine)).ok
    synced(harness, engine)
    assert harness.emulator.stats.by_route[CALLS] == 3


def test_an_edited_call_is_updated_in_the_store(engine):
    harness = make_harness()
    harness.seed(30)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    edited = sorted(harness.vendor_ids())[7]
    harness.edit_call(edited, note="Called back: wants a demo", tags=["Demo"])
    harness.settle()
    result = pull(engine, harness.connector(engine))
    assert result.ok and result.streams["calls"].stored == 1
    call = harness.stored_call(engine, edited)
    assert call is not None
    assert (call.note, call.tags) == ("Called back: wants a demo", ("Demo",))


def test_a_call_edited_while_a_walk_runs_is_read_by_the_next_pull(engine):
    harness = make_harness(settings={"page_size": 15})
    harness.seed(45)
    harness.settle()
    connector = harness.connector(engine)
    pages = connector.read("calls", Cursor())
    first = next(pages)
    unread = sorted(harness.vendor_ids() - {connector.record_key(r) for r in first.records})[-1]
    harness.edit_call(unread, note="edited mid-walk")  # it jumps past the window's end
    for page in [first, *pages]:
        with engine.begin() as conn:
            commit_page(conn, connector, "calls", page, StreamStats())
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    call = harness.stored_call(engine, unread)
    assert call is not None and call.note == "edited mid-walk"
    synced(harness, engine)


def test_a_call_updated_exactly_at_the_window_end_is_read(engine):
    harness = make_harness(settings={"lookback": 0})
    harness.seed(30)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    watermark = parse_time(harness.cursor(engine).completed["watermark"])
    now = harness.clock.now()
    harness.clock.set(watermark)  # a write stamped at the bound that became visible late
    late = harness.add_call()
    harness.clock.set(now)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert late in harness.stored_ids(engine)  # the lower bound is inclusive


def test_calls_younger_than_the_settle_delay_wait_for_the_next_pull(engine):
    harness = make_harness()
    harness.seed(30)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    fresh = harness.add_call()
    assert pull(engine, harness.connector(engine)).ok
    assert fresh not in harness.stored_ids(engine)
    watermark = parse_time(harness.cursor(engine).completed["watermark"])
    assert watermark < harness.clock.now() - timedelta(seconds=60)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert fresh in harness.stored_ids(engine)


def test_out_of_order_pages_skip_nothing(engine):
    harness = make_harness(tunables={"disorder_every": 1}, settings={"page_size": 10})
    harness.seed(80)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    synced(harness, engine)
    assert harness.emulator.stats.by_route["GET /api/v2/callDispositions"] == 1


# --- quarantine and deletions -----------------------------------------------------------------


def test_malformed_records_are_quarantined_and_the_rest_stored(engine):
    harness = make_harness()
    harness.seed(30)
    ids = sorted(harness.vendor_ids())
    harness.edit_call(ids[3], direction="sideways")
    harness.edit_call(ids[5], dialedAt="yesterday afternoon")
    harness.settle()
    result = pull(engine, harness.connector(engine))
    assert result.ok and result.streams["calls"].quarantined == 2
    quarantined = harness.quarantined(engine)
    assert set(quarantined) == {ids[3], ids[5]}
    assert "sideways" in quarantined[ids[3]]
    assert "dialedAt" in quarantined[ids[5]]
    assert harness.stored_ids(engine) == harness.vendor_ids() - {ids[3], ids[5]}
    harness.edit_call(ids[3], direction="outbound")  # fixed in Outreach: stored, resolved
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert set(harness.quarantined(engine)) == {ids[5]}


def test_a_deletion_sweep_tombstones_deleted_calls(engine):
    harness = make_harness()
    harness.seed(40)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    gone = sorted(harness.vendor_ids())[10]
    assert harness.emulator.delete_call(int(gone))
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok  # incremental: absence says nothing
    assert gone in harness.stored_ids(engine)
    harness.clock.advance(timedelta(days=1).total_seconds())
    harness.emulator.stats.reset()
    result = pull(engine, harness.connector(engine))
    assert result.ok and result.streams["calls"].deleted == 1
    assert harness.stored_ids(engine) == harness.vendor_ids()
    assert gone in harness.stored_ids(engine, live=False)  # tombstoned, not dropped
    assert harness.emulator.stats.by_route[CALLS] == 1  # the sweep: ceil(39 / 1000) pages
    swept = harness.cursor(engine).completed
    assert swept["swept_at"] == swept["watermark"]


def test_deletion_sweeps_can_be_turned_off(engine):
    harness = make_harness(settings={"sweep_interval": None})
    harness.seed(40)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    gone = sorted(harness.vendor_ids())[0]
    harness.emulator.delete_call(int(gone))
    harness.clock.advance(timedelta(days=3).total_seconds())
    assert pull(engine, harness.connector(engine)).ok
    assert gone in harness.stored_ids(engine)
