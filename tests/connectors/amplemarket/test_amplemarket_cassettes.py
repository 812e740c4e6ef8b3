"""The Amplemarket connector against hand-written cassettes of the documented payloads.

Each cassette (``cassettes/<test name>.yaml``) replays the vendor's documented examples
(shared/vendor-apis/amplemarket-outreach.md §1.16, the official GET /calls block in seed 001
and the call object of seed 000), with credentials as REDACTED. Replay only, no repeats: a
request the strategy should not make fails the test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors.amplemarket.client import UnavailableError, rate_limit_hint
from connectors.amplemarket.connector import AmplemarketConnector
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import ConnectorContext, Cursor, JsonDict
from syncer import mapping
from syncer.errors import AuthError, TransientError, VendorError
from syncer.http.ratelimit import PacerRegistry
from syncer.model import (
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SequenceAction,
    SourceIdentity,
    VendorLabel,
)

CASSETTES = Path(__file__).parent / "cassettes"
NOW = datetime(2025, 10, 6, 20, 0, tzinfo=UTC)
EXAMPLE_ID = "0199ba5b-e387-7d61-8ae4-6ad9ce65f07b"
INTERESTED = "0199ba5b-e20c-7dc1-9481-097d1256e75b"
NOT_INTERESTED = "0199ba5b-e20c-7dc1-9481-097d1256e75c"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


class NoState:
    def get(self, keys):
        return {}


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def connector(waits):
    context = ConnectorContext(
        name="ample",
        settings=AmplemarketSettings(api_key="cassette-key-not-real"),
        table=mapping.load_tables()["amplemarket"],
        phone_region="US",
        state=NoState(),
        sleep=waits.append,
        pacers=PacerRegistry(sleep=waits.append),
        clock=lambda: NOW,
    )
    connector = AmplemarketConnector(context)
    yield connector
    connector.close()


@pytest.mark.vcr
def test_sweep_follows_next_to_the_end(connector):
    pages = list(connector.read("calls", Cursor()))

    assert [[connector.record_key(r) for r in page.records] for page in pages] == [
        [EXAMPLE_ID],
        [
            "019e8e96-f0bb-7046-95c1-7eba023ab110",
            "019e8e96-f075-7d19-9817-1436a86bb962",
            "019e8e96-f00a-7c8e-aae8-70aa71ac2845",
        ],
    ]
    first, last = pages
    assert first.checkpoint.completed is None
    assert first.checkpoint.partial is not None
    assert first.checkpoint.partial["next"] == (f"/calls?page[size]=20&page[after]={EXAMPLE_ID}")
    assert first.unseen_since is None
    assert last.checkpoint.partial is None
    assert last.checkpoint.completed == {
        "v": 1,
        "watermark": NOW.isoformat(),
        "swept_at": NOW.isoformat(),
    }
    assert last.unseen_since is not None  # a sweep: the engine tombstones what it missed


@pytest.mark.vcr
@pytest.mark.default_cassette("test_sweep_follows_next_to_the_end")
def test_documented_example_maps_to_the_exact_call(connector):
    pages = list(connector.read("calls", Cursor()))
    record = pages[0].records[0]
    call = connector.to_call(record)

    caller, callee = PhoneNumber.parse("+14155550100"), PhoneNumber.parse("+14155550199")
    assert call.source == SourceIdentity(
        system="amplemarket", connection="ample", external_id=EXAMPLE_ID
    )
    assert call.source.source_updated_at is None  # Amplemarket has no updated_at
    assert call.started_at == datetime(2025, 10, 6, 16, 30, 8, tzinfo=UTC)
    assert call.outcome is Outcome.CONNECTED  # answered + human
    assert call.direction is Direction.OUTBOUND
    assert call.from_number == PhoneNumber(raw="+14155550100", e164="+14155550100", valid=True)
    assert call.to_number == PhoneNumber(raw="+14155550199", e164="+14155550199", valid=True)
    assert call.duration_seconds == 184
    assert (call.answered, call.human) == (True, True)
    assert call.disposition == VendorLabel(id=INTERESTED, label="Interested")
    assert call.sequence_action is SequenceAction.ADVANCE  # "Interested" acts next_stage
    assert call.user == Party(
        email="rep@example.com",
        phone=caller,
        ids={"amplemarket": "0199ba5b-e2a1-7b40-8c2e-77aa01f3d902"},
    )
    assert call.contact == Party(
        name="Jane Doe",
        email="jane@acme.com",
        phone=callee,
        ids={"amplemarket": "0199ba5b-e300-7a00-b111-2c3d4e5f6a7b"},
    )
    assert call.note is None
    assert call.transcript is None
    assert call.recording_url == "https://example-recordings.amplemarket.com/abc.mp3"
    assert (call.answered_at, call.ended_at, call.voicemail_url) == (None, None, None)
    assert (call.purpose, call.call_method, call.sequence, call.cost_cents) == (
        None,
        None,
        None,
        None,
    )
    assert call.tags == ()
    assert call.deleted_at is None
    assert call.raw == record

    # The official list example: a dial that never connected (answered null, no duration).
    failed = connector.to_call(pages[1].records[0])
    assert (failed.outcome, failed.answered, failed.duration_seconds) == (
        Outcome.NO_ANSWER,
        None,
        None,
    )
    assert failed.disposition is None and failed.contact is None and failed.direction is None
    assert failed.from_number == PhoneNumber(raw="+351999999999", e164="+351999999999")


@pytest.mark.vcr
def test_window_sends_start_date_from_and_follows_its_link(connector):
    stored = Cursor(
        completed={
            "v": 1,
            "watermark": "2025-10-06T18:00:00+00:00",
            "swept_at": "2025-10-06T12:00:00+00:00",
        }
    )
    pages = list(connector.read("calls", stored))

    assert len(pages) == 2
    assert pages[0].checkpoint.partial["start_from"] == "2025-10-06T15:59:59+00:00"
    assert pages[-1].checkpoint.completed == {
        "v": 1,
        "watermark": NOW.isoformat(),
        "swept_at": "2025-10-06T12:00:00+00:00",  # a window keeps the last sweep's time
    }
    assert pages[-1].unseen_since is None  # a window proves nothing about deletions
    logged, official = (connector.to_call(page.records[0]) for page in pages)
    # A logged call (POST /calls 201 shape): no contact, no direction; "Not interested"
    # completes the task and the sequence lead.
    assert logged.sequence_action is SequenceAction.FINISH
    assert logged.disposition == VendorLabel(id=NOT_INTERESTED, label="Not interested")
    assert logged.transcript == "Rep: Hi Jane ..."
    assert (logged.contact, logged.direction) == (None, None)
    # The official call object (seed 000): answered by a machine, numbers not E.164.
    assert official.outcome is Outcome.VOICEMAIL
    assert (official.answered, official.human) == (True, False)
    assert official.from_number == PhoneNumber(raw="+1 123456789")
    assert official.contact == Party(
        name="John Doe",
        email="john@example.com",
        ids={"amplemarket": "0199ba5b-e123-7abc-8def-123456789012"},
    )


@pytest.mark.vcr
def test_rate_limited_request_is_retried(connector, waits):
    pages = list(connector.read("calls", Cursor()))
    assert [list(page.records) for page in pages] == [[]]
    assert pages[0].checkpoint.completed is not None
    # No header told how long to wait: the client backed off on its own, once.
    assert len([wait for wait in waits if wait > 0]) <= 1


def test_amplemarket_sends_no_rate_limit_headers_so_no_hint():
    assert rate_limit_hint(httpx.Headers({"content-type": "application/json"})) is None
    # Defensive, should the vendor ever add them: both common shapes are understood.
    draft = rate_limit_hint(httpx.Headers({"ratelimit-remaining": "0", "ratelimit-reset": "7"}))
    assert draft is not None
    assert (draft.remaining, draft.reset_after) == (0, 7.0)
    legacy = rate_limit_hint(
        httpx.Headers({"x-ratelimit-remaining": "12", "x-ratelimit-limit": "500"})
    )
    assert legacy is not None
    assert (legacy.remaining, legacy.limit, legacy.reset_after) == (12, 500, None)


@pytest.mark.vcr
def test_invalid_date_is_a_vendor_error(connector):
    with pytest.raises(VendorError) as raised:
        connector.client.list_calls(None, {"start_date_from": "2025-10-06T15:59:59Z"})
    assert raised.value.status == 400
    assert raised.value.message == "unsupported_value: Invalid date format"
    assert not isinstance(raised.value, TransientError | AuthError)


@pytest.mark.vcr
def test_rejected_key_is_an_auth_error(connector):
    with pytest.raises(AuthError) as raised:
        connector.check()
    assert raised.value.status == 401
    assert "cassette-key-not-real" not in str(raised.value)


@pytest.mark.vcr
def test_server_error_ends_the_run_as_transient(connector):
    with pytest.raises(UnavailableError, match="internal_server_error"):
        list(connector.read("calls", Cursor()))


@pytest.mark.vcr
def test_gateway_error_page_is_retried(connector, waits):
    pages = list(connector.read("calls", Cursor()))
    assert pages[-1].checkpoint.completed is not None
    assert len(waits) >= 1


@pytest.mark.vcr
def test_dispositions_are_the_account_labels(connector):
    found: list[JsonDict] = connector.client.dispositions()
    assert [(d["name"], d["action"]) for d in found] == [
        ("Interested", "next_stage"),
        ("Not interested", "complete"),
    ]
