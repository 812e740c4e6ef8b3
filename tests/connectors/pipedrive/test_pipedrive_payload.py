"""Canonical call -> ``POST /v1/callLogs`` body, field by field (no HTTP): the lossy choices
and the limits checked before anything is sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import Resolved
from connectors.pipedrive import payload
from connectors.pipedrive.payload import PayloadError, call_log_body, note_html, strip_marker
from connectors.pipedrive.records import html_to_text
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
from tests.connectors.pipedrive.harness import pipedrive_table

START = datetime(2024, 3, 20, 14, 5, tzinfo=UTC)
LINKS = {"user_id": 777707777, "person_id": 333222111, "org_id": 123456789, "deal_id": 553229734}
LEAD = "adf21080-0e10-11eb-879b-05d71fb426ec"


def make_call(**fields: object) -> Call:
    values: dict[str, object] = {
        "source": SourceIdentity(system="close", connection="close-main", external_id="acti_1"),
        "started_at": START,
        "duration_seconds": 83,
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "from_number": PhoneNumber.parse("(650) 555-6666"),
        "to_number": PhoneNumber.parse("+1 650 333 4444"),
        "user": Party(name="Rep One", email="rep.one@example.com"),
        "contact": Party(name="Jane Doe", email="jane@doe.example"),
        "note": "Discussed pricing",
    }
    values.update(fields)
    return Call.model_validate(values)


def body(call: Call, **links: str | int | None) -> dict[str, object]:
    return call_log_body(call, call.call_uid, Resolved({**LINKS, **links}), pipedrive_table())


def test_the_documented_create_body_field_by_field():
    call = make_call()
    assert body(call) == {
        "user_id": 777707777,
        "subject": "Outbound call to Jane Doe",
        "duration": "83",  # a string of seconds (§2.11b)
        "outcome": "connected",
        "from_phone_number": "+16505556666",  # E.164, whatever the source's format
        "to_phone_number": "+16503334444",
        "start_time": "2024-03-20 14:05:00",  # UTC, YYYY-MM-DD HH:MM:SS (§2.6)
        "end_time": "2024-03-20 14:06:23",  # start + duration
        "person_id": 333222111,
        "org_id": 123456789,
        "deal_id": 553229734,
        "note": f"<p>Discussed pricing</p><p>callsync:{call.call_uid}</p>",
    }


@pytest.mark.parametrize(
    ("outcome", "written"),
    [
        (Outcome.CONNECTED, "connected"),
        (Outcome.NO_ANSWER, "no_answer"),
        (Outcome.BUSY, "busy"),
        (Outcome.VOICEMAIL_LEFT, "left_voicemail"),
        (Outcome.MESSAGE_LEFT, "left_message"),
        (Outcome.WRONG_NUMBER, "wrong_number"),
        # Lossy (mappings/pipedrive.yaml says why): no Pipedrive value claims more.
        (Outcome.VOICEMAIL, "left_voicemail"),
        (Outcome.VOICEMAIL_NO_MESSAGE, "no_answer"),
        (Outcome.BLOCKED, "no_answer"),
        (Outcome.FAILED, "no_answer"),
        (Outcome.ABANDONED, "no_answer"),
        (Outcome.UNKNOWN, "no_answer"),
    ],
)
def test_every_outcome_has_a_pipedrive_value(outcome, written):
    assert body(make_call(outcome=outcome))["outcome"] == written
    table = pipedrive_table()
    exact = table.read("outcome", written) == outcome
    assert exact == (outcome not in table.lossy("outcome"))


def test_times_are_whole_utc_seconds_and_end_is_start_plus_duration():
    local = datetime.fromisoformat("2024-03-20T16:05:00.750+02:00")
    sent = body(make_call(started_at=local, duration_seconds=3600))
    assert sent["start_time"] == "2024-03-20 14:05:00"  # sub-seconds are cut (lossy)
    assert sent["end_time"] == "2024-03-20 15:05:00"


def test_without_a_duration_the_span_to_the_end_is_used_else_zero():
    ended = datetime(2024, 3, 20, 14, 6, 0, tzinfo=UTC)
    spanned = body(make_call(duration_seconds=None, ended_at=ended))
    assert (spanned["duration"], spanned["end_time"]) == ("60", "2024-03-20 14:06:00")
    bare = body(make_call(duration_seconds=None))
    assert (bare["duration"], bare["end_time"]) == ("0", "2024-03-20 14:05:00")


def test_an_unparseable_number_is_sent_as_given_and_a_missing_one_is_left_out():
    sent = body(make_call(from_number=PhoneNumber.parse("ext. 12"), direction=None))
    assert sent["from_phone_number"] == "ext. 12"
    assert sent["subject"] == "Call with Jane Doe"
    assert "from_phone_number" not in body(make_call(from_number=None))


def test_inbound_calls_are_named_by_the_caller_and_unnamed_contacts_by_number():
    inbound = make_call(direction=Direction.INBOUND, contact=None)
    inbound = inbound.model_copy(update={"from_number": PhoneNumber.parse("+16503334444")})
    assert body(inbound)["subject"] == "Inbound call from +16503334444"


def test_a_lead_replaces_the_deal_and_unknown_links_are_left_out():
    sent = body(make_call(), deal_id=None, lead_id=LEAD, org_id=None)
    assert sent["lead_id"] == LEAD
    assert "deal_id" not in sent and "org_id" not in sent


@pytest.mark.parametrize(
    ("call_fields", "links", "message"),
    [
        ({"to_number": None}, {}, "to_phone_number is required"),
        ({}, {"lead_id": LEAD}, "a deal or a lead, never both"),
        ({}, {"deal_id": None, "lead_id": "not-a-uuid"}, "lead_id must be a UUID"),
        ({}, {"person_id": "p-1"}, "person_id is not a Pipedrive id"),
    ],
)
def test_what_pipedrive_would_refuse_is_refused_before_sending(call_fields, links, message):
    with pytest.raises(PayloadError, match=message):
        body(make_call(**call_fields), **links)


def test_fields_without_a_pipedrive_home_are_not_written():
    call = make_call(
        disposition=VendorLabel(id="d1", label="Meeting booked"),
        purpose=VendorLabel(label="Prospecting"),
        call_method=CallMethod.POWER,
        transcript="Hello?",
        recording_url="https://recordings.example.com/1.mp3",
        tags=("vip",),
    )
    assert body(call) == body(make_call())


def test_the_note_is_escaped_html_with_the_marker_last_and_reads_back_without_it():
    call = make_call(note="Price < $5k & soon\n\n  second   line ")
    html = note_html(call.note, call.call_uid)
    assert html == (
        f"<p>Price &lt; $5k &amp; soon</p><p>second   line</p><p>callsync:{call.call_uid}</p>"
    )
    assert strip_marker(html_to_text(html)) == "Price < $5k & soon\nsecond line"
    assert strip_marker(html_to_text(note_html(None, call.call_uid))) is None
    assert payload.has_marker(html, call.call_uid)
    assert not payload.has_marker(html, make_call(source=call.source.model_copy(
        update={"external_id": "other"})).call_uid)  # fmt: skip
