"""The Close connector against hand-written cassettes of Close's documented payloads.

Cassettes (``cassettes/<test name>.yaml``) are built from close-pipedrive.md §1.5-§1.13 and
replay only; every interaction of a cassette must be played, in no particular order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.base import ConnectorContext, Cursor, JsonDict
from connectors.close.client import CALLS, MaxSkipError, close_hint
from connectors.close.connector import CloseConnector
from connectors.close.settings import CloseSettings
from syncer import mapping
from syncer.errors import AuthError, VendorError
from syncer.http.ratelimit import PacerRegistry, RateLimitHint
from syncer.model import (
    Call,
    CallMethod,
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SourceIdentity,
    VendorLabel,
)

NOW = datetime(2024, 3, 21, 10, 0, tzinfo=UTC)
EXAMPLE_ID = "acti_Ay0QqN91HKAHVQUesISYV8QlhDobGfWb1Ui3TE75pJR"
SECOND_ID = "acti_Ay0QqN91HKAHVQUesISYV8QlhDobGfWb1Ui3TSecond"
THIRD_ID = "acti_Ay0QqN91HKAHVQUesISYV8QlhDobGfWb1Ui3TThirdX"


class NoState:
    def get(self, keys: Sequence[str]) -> dict[str, JsonDict]:
        return {}


class FakeTime:
    """A clock for the pacers that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_connector(time: FakeTime | None = None, **settings: Any) -> CloseConnector:
    time = time or FakeTime()
    values = {"api_key": "cassette-test-key", "page_size": 2, "max_skip": 100, **settings}
    context = ConnectorContext(
        name="close-cassette",
        settings=CloseSettings.model_validate(values),
        table=mapping.load_tables()["close"],
        phone_region="US",
        state=NoState(),
        sleep=time.sleep,
        pacers=PacerRegistry(clock=lambda: time.now, sleep=time.sleep),
        clock=lambda: NOW,
    )
    return CloseConnector(context)


WINDOW_START = {"v": 1, "through": "2024-03-20T00:00:00+00:00"}


@pytest.mark.vcr
def test_a_window_is_read_page_by_page_to_its_end(vcr):
    connector = make_connector()
    pages = list(connector.read("calls", Cursor(completed=WINDOW_START)))
    assert [[r["id"] for r in page.records] for page in pages] == [
        [EXAMPLE_ID, SECOND_ID],
        [THIRD_ID],  # the overlap record (SECOND) is not handed out twice
    ]
    partial = pages[0].checkpoint.partial
    assert partial is not None
    walk = partial["walk"]
    assert walk["skip"] == 1 and walk["anchors"] == [EXAMPLE_ID, SECOND_ID] and walk["checked"]
    assert pages[-1].checkpoint.partial is None
    # The window ended at now - settle delay (2 minutes), cut to milliseconds.
    assert pages[-1].checkpoint.completed == {"v": 1, "through": "2024-03-21T09:58:00+00:00"}
    assert vcr.all_played


@pytest.mark.vcr
def test_a_429_is_waited_out_using_the_ratelimit_header(vcr):
    time = FakeTime()
    connector = make_connector(time)
    pages = list(connector.read("calls", Cursor(completed=WINDOW_START)))
    assert [r["id"] for page in pages for r in page.records] == [THIRD_ID]
    # reset=0.87 rounds up to 1 s (plus up to 1 s of jitter against a thundering herd).
    assert 1.0 <= sum(time.sleeps) < 2.0
    assert vcr.all_played


def test_ratelimit_headers_become_hints():
    def hint(**headers: str) -> RateLimitHint | None:
        return close_hint(httpx.Headers(headers))

    assert hint(ratelimit="limit=40, remaining=39, reset=1") == RateLimitHint(39, 1.0, 40)
    assert hint(ratelimit="limit=20, remaining=0, reset=0.4") == RateLimitHint(0, 1.0, 20)
    assert hint(ratelimit="limit=20, remaining=3, reset=2.01") == RateLimitHint(3, 3.0, 20)
    legacy = {"x-rate-limit-remaining": "5", "x-rate-limit-reset": "0.2"}
    assert hint(**legacy) == RateLimitHint(5, 1.0)
    assert hint(**{"content-type": "application/json"}) is None
    assert hint(ratelimit="garbage") is None


@pytest.mark.vcr
def test_error_shapes_become_the_right_errors(vcr):
    connector = make_connector()
    with pytest.raises(AuthError) as auth:
        connector.check()
    assert auth.value.status == 401
    window: dict[str, str | int] = {
        "date_created__gt": "2024-03-20T00:00:00.000Z",
        "date_created__lte": "2024-03-21T09:58:00.000Z",
        "_limit": 1,
        "_skip": 300_000,
    }
    with pytest.raises(MaxSkipError) as deep:
        connector.api.list_calls(window)
    assert deep.value.max_skip == 250_000
    with pytest.raises(VendorError) as invalid:
        connector.api.get(CALLS, {"_limit": 101})
    assert invalid.value.status == 400 and "field-errors" in invalid.value.body
    assert not isinstance(invalid.value, AuthError | MaxSkipError)
    assert vcr.all_played


@pytest.mark.vcr
def test_the_documented_example_maps_field_by_field(vcr):
    connector = make_connector()
    lead = "lead_s6vHFTK1TSRoH6otXOexWDO9jM4xyb1kELHDoU7Fdsp"
    [record], more = connector.api.list_calls({"lead_id": lead, "_limit": 2})
    assert more is False
    call = connector.to_call(record)
    local, remote = PhoneNumber.parse("+16505556666"), PhoneNumber.parse("+16503334444")
    started = datetime(2024, 3, 20, 6, 33, 10, tzinfo=UTC)
    expected = Call(
        source=SourceIdentity(
            system="close",
            connection="close-cassette",
            external_id=EXAMPLE_ID,
            source_updated_at=datetime(2024, 3, 20, 6, 34, 35, 656000, tzinfo=UTC),
        ),
        started_at=started,
        ended_at=started + timedelta(seconds=83),
        duration_seconds=83,
        outcome=Outcome.CONNECTED,
        answered=True,
        human=True,
        direction=Direction.OUTBOUND,
        from_number=local,
        to_number=remote,
        disposition=VendorLabel(id="outcome_031uY9IKV1JxfNKM9n2qCw", label="Interested"),
        call_method=CallMethod.REGULAR,
        user=Party(
            email="jane.rep@example.com",
            phone=local,
            ids={"close": "user_N6KhMpzHRCYQHdn4gRNIFNN5JExnsrprKA6ekxM63XA"},
        ),
        contact=Party(
            phone=remote,
            ids={"close": "cont_q4xYmlGhA3060dEl0NDJuHRxPMuVjqLn30AFSzh1fRk", "close:lead": lead},
        ),
        note="Discussed pricing",
        cost_cents=Decimal("2"),
        raw=record,
    )
    for name in Call.model_fields:
        assert getattr(call, name) == getattr(expected, name), name
    assert call.from_number and call.from_number.e164 == "+16505556666"
    assert call.started_at.tzinfo == UTC and call.cost_cents == Decimal("2")
    assert call == expected
    assert vcr.all_played


@pytest.mark.vcr
def test_the_event_log_rereads_updates_and_tombstones_deletions(vcr):
    connector = make_connector(watch_backdated_creates=False)
    done = {"v": 1, "through": "2024-03-21T09:00:00+00:00", "seen": {}}
    pages = list(connector.read("call_events", Cursor(completed=done)))
    assert [[r["id"] for r in page.records] for page in pages] == [[EXAMPLE_ID], [], []]
    assert connector.to_call(pages[0].records[0]).note == "Discussed pricing; sending a quote"
    assert [list(page.deleted) for page in pages] == [[], [SECOND_ID], []]
    assert (pages[1].checkpoint.partial or {})["cursor"] == "eyJkIjoibmV4dCIsInMiOjQxfQ"
    assert pages[-1].checkpoint.partial is None
    assert pages[-1].checkpoint.completed == {
        "v": 1,
        "through": "2024-03-21T10:00:00+00:00",
        "seen": {},  # no handled event is young enough for the next rescan
    }
    assert vcr.all_played


@pytest.mark.vcr
def test_a_rejected_event_cursor_restarts_the_pass(vcr):
    connector = make_connector(watch_backdated_creates=False)
    stale = {
        "v": 1,
        "mode": "events",
        "poll_at": "2024-03-21T10:00:00+00:00",
        "since": "2024-03-21T08:55:00+00:00",
        "phase": "deleted",
        "cursor": "c3RhbGU",
        "seen": {},
    }
    pages = list(connector.read("call_events", Cursor(partial=stale)))
    assert [list(page.deleted) for page in pages] == [[SECOND_ID]]
    assert pages[0].checkpoint.completed is not None
    assert vcr.all_played
