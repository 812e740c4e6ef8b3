"""Mapping Close call records into canonical calls: the cases the documented example lacks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.close import records
from syncer import mapping
from syncer.errors import MappingFailure
from syncer.mapping import MappingOverrides
from syncer.model import Call, Direction, Outcome

TABLE = mapping.load_tables()["close"]
LABELS = {"outcome_wrong": "Wrong number", "outcome_vm": "Voicemail dropped"}
BASE: dict[str, Any] = {
    "_type": "Call",
    "id": "acti_unit",
    "lead_id": "lead_unit",
    "contact_id": "cont_unit",
    "user_id": "user_unit",
    "user_name": "Ana Silva",
    "date_created": "2026-01-05T09:00:00+00:00",
    "date_updated": "2026-01-05T09:01:00.250000+00:00",
    "activity_at": "2026-01-05T08:59:00+00:00",
    "source": "Close.io",
    "status": "completed",
    "direction": "inbound",
    "disposition": "vm-left",
    "call_method": "power",
    "duration": 40,
    "cost": "1.5",
    "phone": "+16503334444",
    "remote_phone": "+16503334444",
    "local_phone": "+14155551000",
    "note": "",
    "outcome_id": None,
    "recording_url": None,
    "voicemail_url": "https://recordings.example.com/vm.mp3",
}


def call(table: mapping.VendorTable = TABLE, **changes: Any) -> Call:
    record = {**BASE, **changes}
    return records.to_call(
        record, connection="close-unit", table=table, region="US", outcomes=LABELS
    )


def test_an_inbound_voicemail_from_the_dialer():
    mapped = call()
    assert mapped.direction is Direction.INBOUND
    assert mapped.from_number and mapped.from_number.e164 == "+16503334444"
    assert mapped.to_number and mapped.to_number.e164 == "+14155551000"
    assert mapped.outcome is Outcome.VOICEMAIL_LEFT
    assert (mapped.answered, mapped.human) == (False, False)
    assert mapped.call_method and mapped.call_method.value == "power"
    assert mapped.cost_cents == Decimal("1.5")
    assert mapped.note is None  # Close sends "" for no note
    assert mapped.voicemail_url == "https://recordings.example.com/vm.mp3"
    assert mapped.user and mapped.user.name == "Ana Silva"
    assert mapped.source.source_updated_at == datetime(2026, 1, 5, 9, 1, 0, 250000, tzinfo=UTC)


def test_a_call_logged_through_the_api():
    mapped = call(
        source="External",
        disposition=None,
        call_method="external",
        direction=None,
        duration=None,
        local_phone=None,
        activity_at=None,
        cost="0",
    )
    assert mapped.outcome is Outcome.UNKNOWN and mapped.answered is None
    assert mapped.call_method is None
    assert mapped.started_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # date_created
    assert mapped.ended_at is None and mapped.duration_seconds is None
    assert mapped.from_number is None and mapped.to_number is None  # no direction, no guess
    assert mapped.contact and mapped.contact.phone and mapped.contact.phone.e164
    assert mapped.contact.ids == {"close": "cont_unit", "close:lead": "lead_unit"}


def test_custom_outcome_labels_refine_the_disposition():
    override = MappingOverrides(outcome_by_disposition={"wrong NUMBER": Outcome.WRONG_NUMBER})
    table = TABLE.with_overrides(override)
    mapped = call(table, disposition="answered", outcome_id="outcome_wrong")
    assert mapped.outcome is Outcome.WRONG_NUMBER
    assert mapped.disposition and mapped.disposition.label == "Wrong number"
    assert call(disposition="answered", outcome_id="outcome_wrong").outcome is Outcome.CONNECTED
    dangling = call(disposition="answered", outcome_id="outcome_deleted")
    assert dangling.disposition and (dangling.disposition.id, dangling.disposition.label) == (
        "outcome_deleted",
        None,
    )


def test_transcripts_become_text():
    transcript = {
        "utterances": [
            {"speaker_label": "Ana Silva", "speaker_side": "close-user", "text": "Hi Bo."},
            {"speaker_label": "Bo Chen", "speaker_side": "contact", "text": "Hello!"},
        ],
        "summary_text": "A greeting.",
    }
    voicemail = {"utterances": [], "summary_text": "Please call back."}
    mapped = call(recording_transcript=transcript, voicemail_transcript=voicemail)
    assert mapped.transcript == "Ana Silva: Hi Bo.\nBo Chen: Hello!\n\nPlease call back."


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"disposition": "teleported"}, "teleported"),
        ({"direction": "sideways"}, "sideways"),
        ({"cost": "two cents"}, "cost"),
        ({"duration": -3}, "duration"),
        ({"duration": "83"}, "duration"),
        ({"date_updated": "yesterday"}, "date_updated"),
        ({"activity_at": None, "date_created": None}, "activity_at"),
        ({"id": ""}, "id"),
    ],
)
def test_records_that_cannot_be_mapped_say_why(changes, reason):
    with pytest.raises(MappingFailure) as failure:
        call(**changes)
    assert reason in failure.value.reason


def test_naive_timestamps_are_utc():
    mapped = call(activity_at="2026-01-05T08:59:00.120000")
    assert mapped.started_at == datetime(2026, 1, 5, 8, 59, 0, 120000, tzinfo=UTC)
