"""Canonical call -> ``POST /calls`` body, field by field (``connectors.amplemarket.payload``).

Pure: no emulator, no database. What Amplemarket cannot hold is asserted absent, and every
lossy choice (outcome folded into two booleans, a missing duration, a non-http recording
URL) is pinned here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.amplemarket import payload
from connectors.amplemarket.payload import Fingerprint, UnwritableCall
from syncer import mapping
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity

TABLE = mapping.load_tables()["amplemarket"]
MARKER = "5b0c7f3e-2a51-5d4e-9c1b-0f6a7e8d9c21"
USER_ID = "0199ba5b-e2a1-7b40-8c2e-77aa01f3d902"
TASK_ID = "0199ba5b-e33a-7c11-9f00-5d1b2e4c8a10"
START = datetime(2025, 10, 6, 16, 30, 8, tzinfo=UTC)


def make_call(**fields: Any) -> Call:
    base = {
        "source": SourceIdentity(system="fake", connection="src", external_id="x1"),
        "started_at": START,
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "from_number": PhoneNumber.parse("+1 415-555-0100"),
        "to_number": PhoneNumber.parse("(415) 555-0199"),
        "duration_seconds": 184,
        "user": Party(email="rep@example.com"),
        "contact": Party(email="jane@acme.com"),
        "note": "Asked for pricing",
        "transcript": "Rep: Hi Jane ...",
        "recording_url": "https://recordings.example.com/call-123.mp3",
    }
    return Call(**{**base, **fields})


def body_of(
    call: Call, marker: str | None = MARKER, disposition_id: str | None = None
) -> dict[str, Any]:
    return payload.build(
        call,
        table=TABLE,
        user_id=USER_ID,
        task_id=TASK_ID,
        disposition_id=disposition_id,
        marker=marker,
    )


def test_body_has_the_documented_fields_in_their_forms():
    body = body_of(make_call(), disposition_id="0199ba5b-e20c-7dc1-9481-097d1256e75b")

    assert body == {
        "from": "+14155550100",  # E.164, whatever the source typed
        "to": "+14155550199",
        "duration": 184,
        "answered": True,
        "human": True,
        "transcription": f"Rep: Hi Jane ...\n\n[callsync:{MARKER}]",
        "recording_url": "https://recordings.example.com/call-123.mp3",
        "disposition_id": "0199ba5b-e20c-7dc1-9481-097d1256e75b",
        "task_id": TASK_ID,
        "user_id": USER_ID,
    }


def test_fields_post_calls_lacks_are_never_sent():
    body = body_of(make_call(direction=Direction.INBOUND, tags=("vip",)))

    # start time (the server sets it), notes, direction, contact: no such request fields.
    for absent in ("start_date", "notes", "direction", "contact", "tags", "external"):
        assert absent not in body


def test_optional_fields_are_left_out_when_empty():
    body = body_of(make_call(transcript=None, recording_url=None), marker=None)

    assert set(body) == {"from", "to", "duration", "answered", "human", "task_id", "user_id"}


@pytest.mark.parametrize(
    ("outcome", "flags"),
    [
        (Outcome.CONNECTED, (True, True)),
        (Outcome.MESSAGE_LEFT, (True, True)),  # lossy: reads back as connected
        (Outcome.WRONG_NUMBER, (True, True)),  # lossy
        (Outcome.VOICEMAIL, (True, False)),
        (Outcome.VOICEMAIL_LEFT, (True, False)),  # lossy: reads back as voicemail
        (Outcome.VOICEMAIL_NO_MESSAGE, (True, False)),  # lossy
        (Outcome.NO_ANSWER, (False, False)),
        (Outcome.BUSY, (False, False)),  # lossy: no busy
        (Outcome.BLOCKED, (False, False)),
        (Outcome.FAILED, (False, False)),
        (Outcome.ABANDONED, (False, False)),
        (Outcome.UNKNOWN, (False, False)),  # never claims a conversation
    ],
)
def test_outcome_folds_into_answered_and_human(outcome, flags):
    body = body_of(make_call(outcome=outcome))

    assert (body["answered"], body["human"]) == flags


def test_source_booleans_do_not_override_the_outcome():
    # The outcome is the canonical fact; answered/human of the source are its vendor's view.
    body = body_of(make_call(outcome=Outcome.NO_ANSWER, answered=True, human=True))

    assert (body["answered"], body["human"]) == (False, False)


def test_duration_falls_back_to_the_timestamps_then_zero():
    answered = START + timedelta(seconds=6)
    timed = make_call(
        duration_seconds=None, answered_at=answered, ended_at=answered + timedelta(seconds=90)
    )
    unanswered = make_call(duration_seconds=None, ended_at=START + timedelta(seconds=25))
    unknown = make_call(duration_seconds=None)

    assert body_of(timed)["duration"] == 90
    assert body_of(unanswered)["duration"] == 25
    assert body_of(unknown)["duration"] == 0  # required: an unknown duration is sent as 0


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://r.example.com/a.mp3", "https://r.example.com/a.mp3"),
        ("http://r.example.com/a.mp3", "http://r.example.com/a.mp3"),
        ("  https://r.example.com/b.mp3 ", "https://r.example.com/b.mp3"),
        ("ftp://r.example.com/a.mp3", None),
        ("s3://bucket/a.mp3", None),
        ("recordings/a.mp3", None),
        ("https://", None),
    ],
)
def test_recording_url_passes_only_when_fetchable(url, sent):
    assert body_of(make_call(recording_url=url)).get("recording_url") == sent


def test_an_unparseable_number_is_sent_as_written():
    body = body_of(make_call(to_number=PhoneNumber.parse("ext. 42")))

    assert body["to"] == "ext. 42"


@pytest.mark.parametrize("missing", ["from_number", "to_number"])
def test_a_call_without_both_numbers_cannot_be_written(missing):
    with pytest.raises(UnwritableCall, match="requires both"):
        body_of(make_call(**{missing: None}))


def test_marker_is_the_whole_transcription_when_there_is_none():
    body = body_of(make_call(transcript="  "))

    assert body["transcription"] == f"[callsync:{MARKER}]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Rep: hi\n\n[callsync:{MARKER}]", ("Rep: hi", MARKER)),
        (f"[callsync:{MARKER}]", (None, MARKER)),
        (f"Rep: hi\n\n[callsync:{MARKER.upper()}]\n", ("Rep: hi", MARKER)),
        ("Rep: hi", ("Rep: hi", None)),
        (f"[callsync:{MARKER}] then words", (f"[callsync:{MARKER}] then words", None)),
        (None, (None, None)),
    ],
)
def test_split_marker(text, expected):
    assert payload.split_marker(text) == expected


def test_number_variants_cover_the_forms_people_type():
    assert payload.number_variants("+14155550199") == [
        "+14155550199",
        "+1 415-555-0199",
        "(415) 555-0199",
        "+1 4155550199",
        "415.555.0199",
    ]
    assert payload.number_variants("+442071838750") == [
        "+442071838750",
        "+44 20 7183 8750",
        "020 7183 8750",
        "+44 2071838750",
    ]


def test_contact_number_follows_the_direction():
    outbound, inbound = make_call(), make_call(direction=Direction.INBOUND)

    assert payload.contact_number(outbound) == outbound.to_number
    assert payload.contact_number(inbound) == inbound.from_number
    assert payload.contact_number(make_call(direction=None)) == outbound.to_number


def test_fingerprint_matches_only_our_own_logged_call():
    fingerprint = Fingerprint.of(make_call(), TABLE)
    record = {
        "external": True,
        "from": "+14155550100",
        "to": "+14155550199",
        "duration": 184,
        "answered": True,
        "human": True,
    }

    assert fingerprint.matches(record)
    assert not fingerprint.matches({**record, "external": False})  # a dialer call
    assert not fingerprint.matches({**record, "duration": 185})
    assert not fingerprint.matches({**record, "human": False})


def test_first_difference_names_the_canonical_field():
    wanted = body_of(make_call())
    logged = {**wanted, "transcription": "Rep: Hi Jane ..."}  # marker edited away: same

    assert payload.first_difference(logged, wanted) is None
    assert payload.first_difference({**logged, "duration": 1}, wanted) == "duration_seconds"
    assert payload.first_difference({**logged, "human": False}, wanted) == "outcome"
    assert payload.first_difference({**logged, "to": "+1"}, wanted) == "to_number"
    assert payload.first_difference({**logged, "recording_url": None}, wanted) == "recording_url"
    assert payload.first_difference({**logged, "disposition_id": "d"}, wanted) == "disposition"
