"""The client and connector against hand-written cassettes of the documented payloads.

Replay only (record mode none, no repeats): a request the cassette does not hold, or a retry
the code should not make, fails the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.base import Checkpoint, ConnectorContext, Cursor
from connectors.pipedrive.client import PipedriveBlockedError
from connectors.pipedrive.connector import PipedriveConnector
from connectors.pipedrive.settings import PipedriveSettings
from syncer.errors import AuthError, BudgetExhaustedError
from syncer.http.ratelimit import PacerRegistry
from syncer.mapping import load_tables
from syncer.model import Direction, Outcome, Party, PhoneNumber

NOW = datetime(2024, 3, 20, 15, 0, tzinfo=UTC)
ME = {"id": 777707777, "name": "Rep One", "email": "rep.one@example.com", "phone": "+37277774841"}
LOG_A, LOG_B, LOG_C = (
    "CAd92b224eb4a39b5ad8fea92ff0e",
    "3cde3b05035cae14dcfc172bd8000d08",
    "CA0f1e2d3c4b5a69788796a5b4c3d2e1f",
)


class MemoryState:
    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, keys: Sequence[str]) -> dict[str, Any]:
        return {key: self.values[key] for key in keys if key in self.values}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def connector(
    state: MemoryState | None = None, time: FakeTime | None = None, **settings: Any
) -> PipedriveConnector:
    time = time or FakeTime()
    # These cassettes hold one user's account: the walk of other users' activities
    # (``other_users``) is covered against the emulator.
    settings.setdefault("other_users", False)
    context = ConnectorContext(
        name="pipedrive-cassette",
        settings=PipedriveSettings(
            api_token=SecretStr("cassette-token"), company_domain="acme", **settings
        ),
        table=load_tables()["pipedrive"],
        phone_region="US",
        state=state or MemoryState(),
        sleep=time.sleep,
        pacers=PacerRegistry(clock=lambda: time.now, sleep=time.sleep),
        clock=lambda: NOW,
    )
    return PipedriveConnector(context)


def snapshot(activity_id: int, updated: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": activity_id, "type": "call", "subject": "Outbound call to Jane Doe",
        "note": "<p>Synced from Close (acti_Ay0Qq...)</p>", "owner_id": 777707777,
        "is_deleted": False, "done": True, "add_time": "2024-03-20T14:06:30Z",
        "update_time": updated, "deal_id": 553229734, "lead_id": None, "person_id": 333222111,
        "org_id": 123456789, "due_date": "2024-03-20", "due_time": "14:05:00",
        "duration": "00:01:23",
    }  # fmt: skip
    return {**base, **fields}


# --- first pull: the list, its pagination, the join, the profile ------------------------------


@pytest.mark.vcr
@pytest.mark.default_cassette("first_pull")
def test_first_pull_pages_the_list_with_overlap_and_joins_activities(vcr):
    pages = list(connector(call_log_page_size=2).read("calls", Cursor()))

    assert vcr.all_played
    assert [[r["call_log"]["id"] for r in page.records] for page in pages] == [
        [LOG_A, LOG_B, LOG_C],  # the overlapped entry (LOG_B, read twice) is kept once
        [],
    ]
    sweep, final = pages
    assert sweep.unseen_since is not None  # a clean sweep: stored calls not seen are gone
    assert sweep.checkpoint.partial == {
        "bookmark": {"since": None, "swept_at": "2024-03-20T15:00:00Z", "tail": 3, "others": False},
        "changes": {"floor": "2024-03-20T15:00:00Z", "cursor": None, "high": None, "pos": 0},
    }
    assert final.checkpoint == Checkpoint(
        partial=None,
        completed={
            "since": "2024-03-20T15:00:00Z",
            "swept_at": "2024-03-20T15:00:00Z",
            "tail": 3,
            "others": False,
        },
    )
    assert sweep.state["profile"]["user"] == ME
    assert sweep.state["activity:7007"] == {
        "log": LOG_A,
        "activity": snapshot(7007, "2024-03-20T14:06:30Z"),
    }
    assert sweep.state["activity:7009"] == {"log": LOG_C, "activity": None}  # not returned
    assert sweep.records[2]["activity"] is None
    # The last answer said 29938 tokens left (one answer in between had no daily headers).
    assert final.state["budget"] == {"day": "2024-03-20", "limit": 30000, "remaining": 29938}


@pytest.mark.vcr
@pytest.mark.default_cassette("first_pull")
def test_the_documented_example_maps_to_the_exact_call():
    source = connector(call_log_page_size=2)
    record = next(iter(source.read("calls", Cursor()))).records[0]
    call = source.to_call(record)

    assert call.source.system == "pipedrive"
    assert call.source.connection == "pipedrive-cassette"
    assert call.source.external_id == LOG_A
    assert call.source.source_updated_at == datetime(2024, 3, 20, 14, 6, 30, tzinfo=UTC)
    assert call.started_at == datetime(2024, 3, 20, 14, 5, tzinfo=UTC)
    assert call.ended_at == datetime(2024, 3, 20, 14, 6, 23, tzinfo=UTC)
    assert call.answered_at is None
    assert call.duration_seconds == 83
    assert call.outcome is Outcome.CONNECTED
    assert call.answered is True
    assert call.human is True
    assert call.direction is Direction.OUTBOUND  # from_phone_number is the user's own number
    # The documented numbers are possible but not assigned Estonian numbers: kept, not valid.
    mine = PhoneNumber(raw="+37277774841", e164="+37277774841", valid=False)
    theirs = PhoneNumber(raw="+37249234343", e164="+37249234343", valid=False)
    assert call.from_number == mine
    assert call.to_number == theirs
    assert call.user == Party(
        name="Rep One", email="rep.one@example.com", phone=mine, ids={"pipedrive": "777707777"}
    )
    assert call.contact == Party(
        phone=theirs,
        ids={"pipedrive": "333222111", "pipedrive:org": "123456789", "pipedrive:deal": "553229734"},
    )
    # The activity holds the note as edited after logging; the log keeps its first copy.
    assert call.note == "Synced from Close (acti_Ay0Qq...)"
    assert call.disposition is None  # Pipedrive logs have no disposition (§2.5)
    assert call.purpose is None
    assert call.call_method is None
    assert call.sequence is None
    assert call.sequence_action is None
    assert call.transcript is None
    assert call.recording_url is None  # has_recording exposes no URL (§2.11h): raw keeps it
    assert call.voicemail_url is None
    assert call.tags == ()
    assert call.cost_cents is None
    assert call.deleted_at is None
    assert call.raw == record
    assert record["call_log"]["has_recording"] is False


@pytest.mark.vcr
@pytest.mark.default_cassette("first_pull")
def test_the_other_documented_shapes_map():
    source = connector(call_log_page_size=2)
    first = next(iter(source.read("calls", Cursor())))
    inbound, bare = (source.to_call(record) for record in first.records[1:])

    # `YYYY-MM-DD HH:MM:SS` times (the create format) read as UTC; the user's number called.
    assert inbound.started_at == datetime(2024, 3, 20, 14, 20, tzinfo=UTC)
    assert inbound.direction is Direction.INBOUND
    assert inbound.outcome is Outcome.MESSAGE_LEFT
    assert inbound.from_number is not None and inbound.from_number.e164 == "+37255512345"
    assert inbound.contact is not None
    assert inbound.contact.ids == {
        "pipedrive": "333222112",
        "pipedrive:lead": "adf21080-0e10-11eb-879b-05d71fb426ec",
    }
    assert inbound.contact.phone == inbound.from_number
    assert inbound.note == "Gatekeeper: call back Friday & ask for John"
    assert first.records[1]["call_log"]["has_recording"] is True
    # No duration, no caller number, no person, no activity: derived or left unknown.
    assert bare.duration_seconds == 25
    assert bare.direction is None
    assert bare.from_number is None
    assert bare.contact is None
    assert bare.note is None
    assert bare.source.source_updated_at is None
    assert bare.answered is False
    assert bare.human is None


# --- incremental pull: two activity pages, an edit, a soft delete ------------------------------


@pytest.mark.vcr
@pytest.mark.default_cassette("changes_pass")
def test_changes_pass_refetches_edited_calls_and_tombstones_deleted_ones(vcr):
    state = MemoryState(
        {
            "profile": {"credential": None, "fetched_at": "2024-03-20T15:00:00Z", "user": ME},
            "activity:7007": {"log": LOG_A, "activity": snapshot(7007, "2024-03-20T14:06:30Z")},
            "activity:7008": {
                "log": LOG_B,
                "activity": snapshot(7008, "2024-03-20T14:31:02Z", subject="Call from John Roe"),
            },
        }
    )
    source = connector(state)
    state.values["profile"]["credential"] = _credential()
    completed = {
        "since": "2024-03-20T00:02:00Z",
        "swept_at": "2024-03-20T12:00:00Z",
        "tail": 3,
        "others": False,
    }

    pages = list(source.read("calls", Cursor(completed=completed)))

    assert vcr.all_played  # 7011 (planned) and 7012 (another user's) cost nothing
    first, second = pages
    assert [r["call_log"]["id"] for r in first.records] == [LOG_A]
    edited = source.to_call(first.records[0])
    assert edited.note == "Synced from Close (acti_Ay0Qq...)\nDemo booked for Monday"
    assert edited.source.source_updated_at == datetime(2024, 3, 20, 15, 10, tzinfo=UTC)
    assert first.checkpoint.partial is not None
    assert (
        first.checkpoint.partial["changes"]["cursor"]
        == "eyJmaWVsZCI6InVwZGF0ZV90aW1lIiwiaWQiOjcxMDB9"
    )
    assert first.checkpoint.partial["changes"]["high"] == "2024-03-20T15:11:00Z"
    assert second.records == []
    assert list(second.deleted) == [LOG_B]
    assert second.state["activity:7008"]["activity"]["is_deleted"] is True
    assert "activity:7011" not in second.state and "activity:7012" not in second.state
    assert second.checkpoint == Checkpoint(
        partial=None,
        completed={
            "since": "2024-03-20T15:22:00Z",
            "swept_at": "2024-03-20T12:00:00Z",
            "tail": 3,
            "others": False,
        },
    )


def _credential() -> str:
    from connectors.pipedrive.client import credential_key

    return credential_key(SecretStr("cassette-token"))


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.default_cassette("errors")
def test_a_rejected_activity_cursor_restarts_from_the_newest_update_read():
    state = MemoryState(
        {"profile": {"credential": _credential(), "fetched_at": "2024-03-20T15:00:00Z", "user": ME}}
    )
    partial = {
        "bookmark": {
            "since": "2024-03-20T00:02:00Z",
            "swept_at": "2024-03-20T12:00:00Z",
            "tail": 3,
        },
        "changes": {
            "floor": "2024-03-20T00:02:00Z",
            "cursor": "stale-cursor",
            "high": "2024-03-20T15:00:00Z",
            "pos": 0,
        },
    }
    pages = list(connector(state).read("calls", Cursor(partial=partial)))
    assert pages[-1].checkpoint.completed == {
        "since": "2024-03-20T15:00:00Z", "swept_at": "2024-03-20T12:00:00Z", "tail": 3,
        "others": False,
    }  # fmt: skip


@pytest.mark.vcr
@pytest.mark.default_cassette("errors")
def test_gone_call_logs_read_as_none():
    client = connector().client
    assert client.call_log(LOG_B) is None  # 410: deleted
    assert client.call_log(LOG_C) is None  # 404


@pytest.mark.vcr
@pytest.mark.default_cassette("errors")
def test_a_rejected_token_is_an_auth_error():
    with pytest.raises(AuthError) as raised:
        connector().check()
    assert raised.value.status == 401
    assert "cassette-token" not in str(raised.value)


# --- rate limits --------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.default_cassette("rate_limits")
def test_a_burst_429_waits_for_the_window_then_retries():
    time = FakeTime()
    source = connector(time=time)
    source.check()
    assert sum(time.slept) >= 2  # Retry-After: 2 held the token's pacer
    assert source.budget.remaining == 21998


@pytest.mark.vcr
@pytest.mark.default_cassette("rate_limits")
def test_a_budget_429_fails_fast():
    # One answer only (a retry would find no second interaction), and no wait before failing.
    time = FakeTime()
    with pytest.raises(BudgetExhaustedError) as raised:
        connector(time=time).client.call_log_page(0, 50)
    assert raised.value.resets_at == datetime(2024, 3, 21, tzinfo=UTC)
    assert time.slept == []


@pytest.mark.vcr
@pytest.mark.default_cassette("rate_limits")
def test_the_html_403_after_hammering_is_a_transient_block():
    with pytest.raises(PipedriveBlockedError):
        connector().client.call_log(LOG_A)
