"""Pure parts of the Amplemarket connector: the cursor plan, settings, record mapping edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from connectors.amplemarket.client import credential_key, error_detail, relative
from connectors.amplemarket.cursor import Completed, Walk, plan
from connectors.amplemarket.records import Disposition, MappingContext, record_key, to_call
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import Cursor
from syncer import mapping
from syncer.errors import MappingFailure
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, VendorLabel

NOW = datetime(2026, 3, 2, 12, 30, 15, 250000, tzinfo=UTC)
WALL = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
LOOKBACK = timedelta(hours=2)
SWEEP = timedelta(days=1)


def planned(cursor: Cursor) -> Walk:
    return plan(cursor, now=NOW, wall_now=WALL, lookback=LOOKBACK, sweep_interval=SWEEP)


# --- the cursor plan -----------------------------------------------------------------------


def test_a_first_pull_is_a_full_sweep_that_knows_when_it_began():
    walk = planned(Cursor())
    assert walk.sweep and walk.first_params(None) == {}
    assert (walk.signpost, walk.swept_at, walk.seen_since) == (NOW, NOW, WALL)
    assert walk.completed() == {"v": 1, "watermark": NOW.isoformat(), "swept_at": NOW.isoformat()}


def test_a_window_starts_one_lookback_and_one_second_before_the_watermark():
    swept = NOW - timedelta(hours=3)
    watermark = datetime(2026, 3, 2, 12, 0, 0, 900000, tzinfo=UTC)
    walk = planned(Cursor(completed=Completed(watermark, swept).to_json()))
    assert not walk.sweep and walk.seen_since is None
    assert walk.first_params(50) == {
        "page[size]": "50",
        "start_date_from": "2026-03-02T09:59:59Z",  # whole seconds, exclusive bound
    }
    assert walk.completed() == Completed(NOW, swept).to_json()  # the sweep time is kept


def test_a_sweep_is_due_once_the_interval_passed_or_when_the_cursor_is_unreadable():
    due = Completed(NOW - timedelta(hours=1), NOW - SWEEP).to_json()
    assert planned(Cursor(completed=due)).sweep
    for unreadable in ({"v": 99, "watermark": NOW.isoformat()}, {"v": 1}, {"watermark": "x"}):
        assert planned(Cursor(completed=unreadable)).sweep


def test_a_partial_cursor_resumes_the_same_walk():
    window = Walk(NOW - timedelta(minutes=5), NOW - timedelta(hours=3), NOW - timedelta(hours=9))
    partial = window.partial("/calls?page[size]=20&page[after]=abc")
    resumed = planned(Cursor(completed=Completed(NOW, NOW).to_json(), partial=partial))
    assert resumed.next_href == "/calls?page[size]=20&page[after]=abc"
    assert (resumed.signpost, resumed.start_from, resumed.swept_at) == (
        window.signpost,
        window.start_from,
        window.swept_at,
    )
    sweep = planned(Cursor())
    again = planned(Cursor(partial=sweep.partial("/calls?page[after]=x")))
    assert again.sweep and again.seen_since == WALL


def test_a_partial_sweep_that_forgot_its_start_is_not_resumed():
    partial = {"v": 1, "next": "/calls?page[after]=x", "signpost": NOW.isoformat()}
    assert planned(Cursor(partial=partial)).next_href is None


# --- settings ------------------------------------------------------------------------------


def test_settings_defaults_and_intervals():
    settings = AmplemarketSettings(api_key=SecretStr("k"))
    assert (settings.lookback, settings.sweep_interval) == (LOOKBACK, SWEEP)
    assert settings.requests_per_second == pytest.approx(500 * 0.8 / 60)
    assert settings.page_size is None
    custom = AmplemarketSettings(api_key="k", lookback="30m", sweep_interval="12h")
    assert (custom.lookback, custom.sweep_interval) == (timedelta(minutes=30), timedelta(hours=12))


@pytest.mark.parametrize(
    "bad",
    [
        {"rate_share": 0.9, "burst": 60},  # 450 + 60 > 500 in one minute
        {"rate_share": 0},
        {"lookback": "0s"},
        {"sweep_interval": "soon"},
        {"page_size": 0},
        {"unknown": 1},
    ],
)
def test_settings_refuse_values_that_break_the_promises(bad):
    with pytest.raises(ValidationError):
        AmplemarketSettings(api_key="k", **bad)


def test_the_pacer_key_is_a_fingerprint_not_the_key():
    key = credential_key(SecretStr("amp_live_secret_value"))
    assert key.startswith("amplemarket:") and "secret" not in key
    assert key == credential_key(SecretStr("amp_live_secret_value"))
    assert key != credential_key(SecretStr("another"))


def test_links_stay_on_the_configured_origin():
    assert relative("/calls?page[after]=x") == "/calls?page[after]=x"
    assert relative("https://evil.example/calls?page[after]=x") == "/calls?page[after]=x"


def test_error_detail_reads_the_envelope_or_falls_back_to_text():
    body = '{"_errors":[{"code":"not_found","title":"Not Found","detail":"Call not found"}]}'
    assert error_detail(body) == "not_found: Call not found"
    assert error_detail("<html>502</html>") == "<html>502</html>"


# --- records -------------------------------------------------------------------------------

RECORD = {
    "id": "0199ba5b-e387-7d61-8ae4-6ad9ce65f07b",
    "start_date": "2025-10-06T16:30:08Z",
    "from": "+14155550100",
    "to": "+14155550199",
    "answered": True,
    "human": True,
    "direction": "incoming",
    "user_id": "u1",
    "contact": {"id": "c1", "name": None, "email": None},
}


def context(
    dispositions: list[Disposition] | None = None, table: mapping.VendorTable | None = None
) -> MappingContext:
    known = {d.id: d for d in dispositions or []}
    return MappingContext("ample", table or mapping.load_tables()["amplemarket"], "US", known.get)


def mapped(**changes: Any) -> Call:
    return to_call({**RECORD, **changes}, context())


def test_incoming_calls_put_the_rep_on_the_callee_side():
    call = mapped()
    assert call.direction is Direction.INBOUND
    assert call.user == Party(phone=PhoneNumber.parse("+14155550199"), ids={"amplemarket": "u1"})
    assert call.contact == Party(phone=PhoneNumber.parse("+14155550100"), ids={"amplemarket": "c1"})


@pytest.mark.parametrize(
    ("answered", "human", "outcome"),
    [
        (True, True, Outcome.CONNECTED),
        (True, False, Outcome.VOICEMAIL),
        (False, False, Outcome.NO_ANSWER),
        (None, False, Outcome.NO_ANSWER),  # the official example's failed dial
        (True, None, Outcome.UNKNOWN),  # answered, by whom is not said
    ],
)
def test_answered_and_human_fold_into_the_outcome(answered, human, outcome):
    assert mapped(answered=answered, human=human).outcome is outcome


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"start_date": "2025-10-06T16:30:08"}, "start_date"),  # no zone
        ({"start_date": None}, "start_date"),
        ({"duration": -1}, "duration"),
        ({"duration": "60"}, "duration"),
        ({"answered": "yes"}, "answered"),
        ({"direction": "sideways"}, "sideways"),
        ({"contact": "Jane"}, "contact"),
        ({"id": ""}, "id"),
    ],
)
def test_records_that_cannot_be_mapped_fail_with_a_reason(changes, reason):
    with pytest.raises(MappingFailure, match=reason):
        mapped(**changes)


def test_a_disposition_gone_from_the_account_keeps_the_calls_own_name():
    call = mapped(disposition_id="d-gone", disposition_name="Old label")
    assert call.disposition == VendorLabel(id="d-gone", label="Old label")
    assert call.sequence_action is None


def test_a_disposition_label_refines_the_coarse_outcome():
    table = mapping.load_tables()["amplemarket"].with_overrides(
        mapping.MappingOverrides(outcome_by_disposition={"Busy": Outcome.BUSY})
    )
    busy = Disposition("d1", "Busy", "next_stage")
    record = {**RECORD, "answered": False, "disposition_id": "d1"}
    assert to_call(record, context([busy], table)).outcome is Outcome.BUSY
    assert to_call(record, context([busy])).outcome is Outcome.NO_ANSWER


def test_transcript_entries_are_used_when_there_is_no_transcription():
    entries = [{"speaker": "Rep", "text": "Hi"}, {"content": "Hello"}, 3, "Bye"]
    assert mapped(transcript=entries).transcript == "Rep: Hi\nHello\nBye"
    assert mapped(transcription="Plain", transcript=entries).transcript == "Plain"
    assert mapped(transcript=[]).transcript is None


def test_record_key_names_only_records_with_an_id():
    assert record_key(RECORD) == RECORD["id"]
    for nameless in ({}, {"id": 5}, "not a record"):
        with pytest.raises(KeyError):
            record_key(nameless)
