"""The Outreach connector against hand-written cassettes of the documented payloads.

Each cassette (``cassettes/<test name>.yaml``) replays the examples of
shared/vendor-apis/amplemarket-outreach.md §2 (the list example of §2.14, the error shapes of
§2.2/§2.10/§2.11, the token answer of §2.2), with credentials as REDACTED. Replay only, no
repeats: a request the strategy should not make fails the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.base import ConnectorContext, Cursor
from connectors.outreach.client import OutreachUnavailableError, rate_limit_hint
from connectors.outreach.connector import OutreachConnector
from connectors.outreach.settings import OutreachSettings
from syncer.errors import AuthError, TransientError
from syncer.http.oauth import IssuedToken, Spend
from syncer.http.ratelimit import PacerRegistry
from syncer.model import (
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SequenceAction,
    SequenceContext,
    SourceIdentity,
    VendorLabel,
)
from tests.connectors.outreach.harness import outreach_table

CASSETTES = Path(__file__).parent / "cassettes"
NOW = datetime(2025, 10, 6, 17, 0, tzinfo=UTC)
# The stored cursor: last window ended at 00:05, the last sweep too (a sweep is not due).
STORED = {"watermark": "2025-10-06T00:05:00.000Z", "swept_at": "2025-10-06T00:05:00.000Z"}
NEXT = (
    "https://api.outreach.io/api/v2/calls?count=false"
    "&filter%5BupdatedAt%5D%5Bgte%5D=2025-10-06T00%3A00%3A00.000Z"
    "&filter%5BupdatedAt%5D%5Blte%5D=2025-10-06T16%3A58%3A00.000Z&newFilterSyntax=true"
    "&page%5Bafter%5D=eyJjbiI6IkFwaVYyOjpDYWxsc0NvbnRyb2xsZXIiLCJzcCI6InVwZGF0ZWRBdCIsInN2Ijpb"
    "IjIwMjUtMTAtMDZUMTY6MzQ6MDIuMDAwWiJdLCJpZCI6OTg3NjU0LCJ2IjoxfQ%3D%3D"
    "&page%5Bsize%5D=1000&sort=updatedAt"
)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


class NoState:
    def get(self, keys):
        return {}


class MemoryTokens:
    """A token store in memory: rotates like the database one, without a database."""

    def __init__(self, refresh: str, token: IssuedToken | None = None) -> None:
        self.refresh = refresh
        self.token = token
        self.spent: list[str] = []

    def current(self) -> IssuedToken | None:
        return self.token

    def rotate(self, spend: Spend, stale_access_token: str | None) -> IssuedToken:
        if self.token is not None and self.token.access_token != stale_access_token:
            return self.token
        self.spent.append(self.refresh)
        self.token = spend(self.refresh)
        self.refresh = self.token.refresh_token
        return self.token


def valid_token() -> IssuedToken:
    return IssuedToken("REDACTED", "REDACTED", NOW + timedelta(hours=1))


@pytest.fixture
def waits() -> list[float]:
    return []


def build(waits: list[float], tokens: MemoryTokens, now: datetime = NOW) -> OutreachConnector:
    settings = OutreachSettings(
        client_id="cassette-client",
        client_secret="cassette-secret-not-real",
        refresh_token="cassette-refresh-not-real",
        redirect_uri="https://callsync.example/oauth/callback",
    )
    context = ConnectorContext(
        name="outreach",
        settings=settings,
        table=outreach_table(),
        phone_region="US",
        state=NoState(),
        tokens=tokens,
        sleep=waits.append,
        pacers=PacerRegistry(clock=lambda: 0.0, sleep=waits.append),
        clock=lambda: now,
    )
    return OutreachConnector(context)


@pytest.fixture
def connector(waits):
    connector = build(waits, MemoryTokens("cassette-refresh-not-real", valid_token()))
    yield connector
    connector.close()


@pytest.mark.vcr
def test_window_walk_follows_next_to_the_end(connector, vcr):
    pages = list(connector.read("calls", Cursor(completed=STORED)))
    assert [[connector.record_key(r) for r in page.records] for page in pages] == [
        ["987654"],
        ["987655"],
    ]
    first, last = pages
    assert first.checkpoint.completed is None
    assert first.checkpoint.partial is not None
    assert first.checkpoint.partial["next"] == NEXT  # links.next, verbatim
    assert last.checkpoint.partial is None
    assert last.checkpoint.completed == {
        "watermark": "2025-10-06T16:58:00.000Z",  # the window's end, not the newest record
        "swept_at": "2025-10-06T00:05:00.000Z",
    }
    assert last.unseen_since is None  # not a sweep
    assert vcr.all_played


@pytest.mark.vcr("test_window_walk_follows_next_to_the_end.yaml")
def test_the_documented_example_maps_field_by_field(connector):
    first = next(iter(connector.read("calls", Cursor(completed=STORED))))
    record = first.records[0]
    call = connector.to_call(record)
    assert call.source == SourceIdentity(
        system="outreach",
        connection="outreach",
        external_id="987654",
        source_updated_at=datetime(2025, 10, 6, 16, 34, 2, tzinfo=UTC),
    )
    assert call.started_at == datetime(2025, 10, 6, 16, 30, 8, tzinfo=UTC)  # dialedAt
    assert call.answered_at == datetime(2025, 10, 6, 16, 30, 14, tzinfo=UTC)
    assert call.ended_at == datetime(2025, 10, 6, 16, 33, 18, tzinfo=UTC)
    assert call.duration_seconds == 184  # completedAt - answeredAt
    assert call.outcome is Outcome.CONNECTED
    assert call.answered is True
    assert call.human is True
    assert call.direction is Direction.OUTBOUND
    rep = PhoneNumber(raw="+14155550100", e164="+14155550100", valid=True)
    prospect = PhoneNumber(raw="+14155550199", e164="+14155550199", valid=True)
    assert (call.from_number, call.to_number) == (rep, prospect)
    assert call.disposition == VendorLabel(id="12", label="Interested")
    assert call.purpose == VendorLabel(id="3", label="Prospecting")
    assert call.call_method is None  # Outreach has no dialer-mode field
    assert call.sequence == SequenceContext(id="88", step="301")
    assert call.sequence_action is SequenceAction.ADVANCE
    # The rep's name and email come from GET /users?filter[id]=7 (issue 9).
    assert call.user == Party(
        name="Ana Silva", email="rep@example.com", phone=rep, ids={"outreach": "7"}
    )
    assert call.contact == Party(phone=prospect, ids={"outreach": "4321"})
    assert call.note == "Asked for pricing deck"
    assert call.transcript is None
    assert call.recording_url == "https://recordings.example.com/987654.mp3"
    assert call.voicemail_url is None
    assert call.tags == ("Interested",)
    assert call.cost_cents is None
    assert call.deleted_at is None
    [user] = call.raw.pop("included")  # the user resource, kept for mapping again
    assert (user["type"], user["id"]) == ("user", 7)
    assert call.raw == record


@pytest.mark.vcr("test_window_walk_follows_next_to_the_end.yaml")
def test_a_manually_logged_inbound_call_maps_from_created_at(connector):
    last = list(connector.read("calls", Cursor(completed=STORED)))[-1]
    call = connector.to_call(last.records[0])
    assert call.started_at == datetime(2025, 10, 6, 16, 40, tzinfo=UTC)  # createdAt
    assert (call.answered_at, call.ended_at, call.duration_seconds) == (None, None, None)
    assert call.direction is Direction.INBOUND
    assert call.from_number == PhoneNumber(raw="(415) 555-0142", e164="+14155550142", valid=True)
    assert call.contact is not None and call.contact.phone == call.from_number  # inbound
    assert call.user is not None and call.user.ids == {"outreach": "7"}
    # "Not Answered" refined by the account's disposition label (the connection's mapping).
    assert call.disposition == VendorLabel(id="13", label="Left Voicemail")
    assert call.outcome is Outcome.VOICEMAIL_LEFT
    assert (call.answered, call.human) == (False, False)
    assert (call.purpose, call.sequence, call.sequence_action, call.tags) == (None, None, None, ())


@pytest.mark.vcr
def test_first_use_exchanges_the_refresh_token(waits, vcr):
    tokens = MemoryTokens("cassette-refresh-not-real")
    connector = build(waits, tokens)
    connector.check()
    connector.close()
    assert tokens.spent == ["cassette-refresh-not-real"]
    assert vcr.all_played  # the exchange, then the probe with the new access token
    assert tokens.token is not None
    assert tokens.token.expires_at == NOW + timedelta(seconds=7200)


@pytest.mark.vcr
def test_rate_limited_request_waits_until_the_reset(waits, vcr):
    one_minute_before_reset = datetime(2025, 10, 6, 16, 59, tzinfo=UTC)
    connector = build(waits, MemoryTokens("r", valid_token()), now=one_minute_before_reset)
    connector.check()
    assert vcr.all_played
    # Reset 17:00:00 read as epoch seconds, one minute after the clock: wait it out (+ jitter).
    assert any(60 <= wait <= 61 for wait in waits), waits


@pytest.mark.vcr
def test_maintenance_is_retried(connector, waits, vcr):
    connector.check()
    assert vcr.all_played
    assert len(waits) == 1  # one backoff: the ISO Retry-After is not an RFC 9110 value


@pytest.mark.vcr
def test_missing_scope_is_an_auth_error(connector):
    with pytest.raises(AuthError, match="unauthorizedOauthScope"):
        connector.check()


@pytest.mark.vcr
def test_revoked_grant_is_an_auth_error(waits, vcr):
    tokens = MemoryTokens("cassette-refresh-not-real", valid_token())
    connector = build(waits, tokens)
    with pytest.raises(AuthError, match="invalid_grant"):
        connector.check()
    assert vcr.all_played
    assert tokens.spent == ["cassette-refresh-not-real"]  # spent once, never retried


@pytest.mark.vcr
def test_server_error_ends_the_run_cleanly(connector):
    with pytest.raises(OutreachUnavailableError) as raised:
        connector.check()
    assert isinstance(raised.value, TransientError)


@pytest.mark.vcr
def test_refused_page_cursor_restarts_the_window(connector, vcr):
    window = {
        "start": "2025-10-06T00:00:00.000Z",
        "end": "2025-10-06T16:58:00.000Z",
        "done": {"watermark": "2025-10-06T16:58:00.000Z", "swept_at": None},
        "sweep_started": None,
    }
    cursor = Cursor(completed=STORED, partial={"window": window, "next": NEXT})
    pages = list(connector.read("calls", cursor))
    assert vcr.all_played
    assert [page.records for page in pages] == [[]]
    assert pages[0].checkpoint.completed == window["done"]


def test_rate_limit_headers():
    now = datetime(2025, 10, 6, 16, 59, tzinfo=UTC)
    parse = rate_limit_hint(lambda: now)
    headers = httpx.Headers(
        {
            "X-RateLimit-Limit": "10000",
            "X-RateLimit-Remaining": "9999, 19988",
            "X-RateLimit-Reset": "1759770000",
        }
    )
    hint = parse(headers)
    assert hint is not None
    assert (hint.limit, hint.remaining, hint.reset_after) == (10000, 9999, 60.0)
    assert parse(httpx.Headers({"content-type": "application/json"})) is None
    # Unconfirmed format: a Reset too small to be an epoch is read as seconds from now.
    delta = parse(httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}))
    assert delta is not None and delta.reset_after == 30.0
