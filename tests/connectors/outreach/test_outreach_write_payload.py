"""The Outreach create payload, field by field: lossy choices and the limits checked before
sending (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.outreach.identity import contact_number
from connectors.outreach.payload import call_document, differences, recording_url
from connectors.outreach.settings import OutreachSettings
from syncer.model import (
    Call,
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SequenceAction,
    SourceIdentity,
)
from tests.connectors.outreach.harness import WRITE_SETTINGS, outreach_table

MARKER = "0199ba5b-e387-7d61-8ae4-6ad9ce65f07b"
STARTED = datetime(2025, 10, 6, 16, 30, 8, tzinfo=UTC)
LINKS = {"user": "7", "prospect": "4321", "phoneNumber": "5566", "callDisposition": "12",
         "callPurpose": "3"}  # fmt: skip


def settings(**overrides) -> OutreachSettings:
    values = {"client_id": "c", "client_secret": "s", "refresh_token": "r", **WRITE_SETTINGS}
    return OutreachSettings(**{**values, **overrides})


def sample(**changes) -> Call:
    values = {
        "source": SourceIdentity(system="amplemarket", connection="am", external_id="123"),
        "started_at": STARTED,
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "from_number": PhoneNumber.parse("+14155550100"),
        "to_number": PhoneNumber.parse("(415) 555-0199"),
        "answered_at": STARTED + timedelta(seconds=6),
        "ended_at": STARTED + timedelta(seconds=190),
        "duration_seconds": 184,
        "sequence_action": SequenceAction.ADVANCE,
        "user": Party(email="rep@example.com"),
        "contact": Party(email="pat@example.com", phone=PhoneNumber.parse("(415) 555-0199")),
        "note": "Asked for pricing deck",
        "recording_url": "https://recordings.example.com/call-123.mp3",
        "tags": ("Interested",),
    }
    return Call(**{**values, **changes})


def document(call: Call, links=LINKS, **overrides) -> dict:
    return call_document(call, MARKER, links, outreach_table(), settings(**overrides))


def attributes(call: Call, **overrides) -> dict:
    return document(call, **overrides)["data"]["attributes"]


def test_the_body_is_the_documented_create_request():
    assert document(sample()) == {
        "data": {
            "type": "call",
            "attributes": {
                "direction": "outbound",
                "outcome": "Answered",
                "from": "+14155550100",
                "to": "+14155550199",
                "dialedAt": "2025-10-06T16:30:08.000Z",
                "answeredAt": "2025-10-06T16:30:14.000Z",
                "completedAt": "2025-10-06T16:33:18.000Z",
                "note": "Asked for pricing deck",
                "recordingUrl": "https://recordings.example.com/call-123.mp3",
                "sequenceAction": "Advance",
                "tags": ["Interested"],
                "externalVendor": "callsync",
                "vendorCallId": MARKER,
            },
            "relationships": {
                name: {"data": {"type": name, "id": int(ident)}} for name, ident in LINKS.items()
            },
        }
    }


def test_what_is_not_known_is_not_sent():
    call = sample(direction=None, from_number=None, to_number=None, answered_at=None,
                  ended_at=None, duration_seconds=None, sequence_action=None, note=None,
                  recording_url=None, tags=(), outcome=Outcome.NO_ANSWER)  # fmt: skip
    body = document(call, links={"user": "7", "prospect": "4321"})
    assert body["data"]["attributes"] == {
        "outcome": "Not Answered",
        "dialedAt": "2025-10-06T16:30:08.000Z",
        "externalVendor": "callsync",
        "vendorCallId": MARKER,
    }
    assert set(body["data"]["relationships"]) == {"user", "prospect"}


@pytest.mark.parametrize(
    ("outcome", "written"),
    [
        (Outcome.CONNECTED, "Answered"),
        (Outcome.MESSAGE_LEFT, "Answered"),  # a person answered (lossy: detail in disposition)
        (Outcome.WRONG_NUMBER, "Answered"),
        (Outcome.VOICEMAIL_LEFT, "Not Answered"),  # a machine is not a person
        (Outcome.VOICEMAIL, "Not Answered"),
        (Outcome.BUSY, "Not Answered"),
        (Outcome.FAILED, "Not Answered"),
        (Outcome.UNKNOWN, "Not Answered"),  # never claims a conversation
    ],
)
def test_the_binary_outcome_comes_from_the_table(outcome, written):
    assert attributes(sample(outcome=outcome))["outcome"] == written


def test_inbound_keeps_from_and_to_as_the_call_says():
    call = sample(direction=Direction.INBOUND, from_number=PhoneNumber.parse("+14155550199"),
                  to_number=PhoneNumber.parse("+14155550100"))  # fmt: skip
    values = attributes(call)
    assert (values["direction"], values["from"], values["to"]) == (
        "inbound", "+14155550199", "+14155550100",
    )  # fmt: skip


def test_an_unparseable_number_is_sent_as_typed_when_it_fits():
    assert attributes(sample(to_number=PhoneNumber(raw=" ext 12 ")))["to"] == "ext 12"
    assert "to" not in attributes(sample(to_number=PhoneNumber(raw="9" * 256)))


def test_completed_at_falls_back_to_answer_plus_duration():
    talked = sample(ended_at=None, duration_seconds=180)
    assert attributes(talked)["completedAt"] == "2025-10-06T16:33:14.000Z"
    unanswered = sample(ended_at=None, answered_at=None, duration_seconds=20)
    assert attributes(unanswered)["completedAt"] == "2025-10-06T16:30:28.000Z"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://r.example/" + "a" * 237, True),  # exactly 255 characters
        ("https://r.example/" + "a" * 238, False),  # 256: over Outreach's limit
        ("http://r.example/a.mp3", True),
        ("ftp://r.example/a.mp3", False),  # http(s) only
        ("s3://bucket/a.mp3", False),
        ("not a url", False),
    ],
)
def test_recording_url_limits_are_checked_before_sending(url, kept):
    assert recording_url(url) == (url if kept else None)
    assert ("recordingUrl" in attributes(sample(recording_url=url))) is kept


def test_a_long_note_is_cut_to_the_limit():
    note = attributes(sample(note="x" * 70_000))["note"]
    assert len(note) == 65_535
    assert note.endswith("…")


def test_the_marker_must_fit_vendor_call_id():
    with pytest.raises(ValueError, match="63"):
        call_document(sample(), "m" * 64, LINKS, outreach_table(), settings())
    assert len(call_document(sample(), "m" * 63, LINKS, outreach_table(), settings())
               ["data"]["attributes"]["vendorCallId"]) == 63  # fmt: skip


def test_sequence_action_can_be_left_out():
    assert attributes(sample(sequence_action=SequenceAction.FINISH_REPLIED))[
        "sequenceAction"] == "Finish - Replied"  # fmt: skip
    assert "sequenceAction" not in attributes(sample(), write_sequence_action=False)


def test_differences_ignore_sub_seconds_and_blank_values():
    body = document(sample(started_at=STARTED + timedelta(microseconds=400_000), tags=()))
    record = {
        "attributes": {**body["data"]["attributes"], "dialedAt": "2025-10-06T16:30:08.000Z",
                       "tags": [], "state": "completed"},
        "relationships": {name: {"data": {"type": name, "id": int(ident)}}
                          for name, ident in LINKS.items()},
    }  # fmt: skip
    assert list(differences(body, record)) == []
    record["attributes"]["note"] = "edited"
    record["relationships"]["callPurpose"] = {"data": None}
    assert list(differences(body, record)) == ["note", "callPurpose"]


def test_the_contact_number_follows_the_direction():
    outbound = sample()
    inbound = sample(direction=Direction.INBOUND, from_number=PhoneNumber(raw="415.555.0142"))
    unknown = sample(direction=None, to_number=None)
    assert contact_number(outbound, "US") == "+14155550199"
    assert contact_number(inbound, "US") == "+14155550142"  # re-parsed in the region
    assert contact_number(unknown, "US") == "+14155550199"  # the contact's own phone
