"""The write path against hand-written cassettes of the documented payloads, request bodies
matched: the create body, the PATCH of the activity and the multipart upload are part of the
contract. Replay only, no repeats: an extra or resent request fails the test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.base import CannotUpdate, ConnectorContext, Parked, Resolved, WriteOptions
from connectors.pipedrive.connector import PipedriveConnector
from connectors.pipedrive.settings import PipedriveSettings
from syncer.http.ratelimit import PacerRegistry
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity
from tests.connectors.pipedrive.harness import pipedrive_table

NOW = datetime(2024, 3, 20, 15, 0, tzinfo=UTC)
LOG_ID = "3cde3b05035cae14dcfc172bd8000d08"
MARKER = "a60bbe78-0d6a-519c-8ce1-73f354dbd496"
LEAD = "adf21080-0e10-11eb-879b-05d71fb426ec"
LINKS = {
    "user_id": 777707777,
    "person_id": 333222111,
    "org_id": 123456789,
    "deal_id": 553229734,
    "lead_id": None,
}


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    return {**vcr_config, "match_on": [*vcr_config["match_on"], "body"]}


class NoState:
    def get(self, keys: Any) -> dict[str, Any]:
        return {}


def connector() -> PipedriveConnector:
    clock = {"now": 0.0}

    def sleep(seconds: float) -> None:
        clock["now"] += seconds

    context = ConnectorContext(
        name="pipedrive-cassette",
        settings=PipedriveSettings(api_token=SecretStr("cassette-token"), company_domain="acme"),
        table=pipedrive_table(),
        phone_region="US",
        state=NoState(),
        sleep=sleep,
        pacers=PacerRegistry(clock=lambda: clock["now"], sleep=sleep),
        clock=lambda: NOW,
    )
    return PipedriveConnector(context)


def example_call(**fields: Any) -> Call:
    """The documented example (vendor-apis §2.12) as a call read from Close."""
    values: dict[str, Any] = {
        "source": SourceIdentity(system="close", connection="close-main", external_id="acti_Ay0Qq"),
        "started_at": datetime(2024, 3, 20, 14, 5, tzinfo=UTC),
        "duration_seconds": 83,
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "from_number": PhoneNumber.parse("(650) 555-6666"),
        "to_number": PhoneNumber.parse("+1 650 333 4444"),
        "user": Party(name="Rep One", email="Rep.One@example.com"),
        "contact": Party(name="Jane Doe", email="jane@doe.example"),
        "note": "Discussed pricing",
    }
    values.update(fields)
    call = Call.model_validate(values)
    assert call.call_uid == MARKER
    return call


def to(number: str, email: str) -> Call:
    phone = PhoneNumber.parse(number)
    call = example_call(to_number=phone)
    assert call.contact is not None
    return call.model_copy(update={"contact": call.contact.model_copy(update={"email": email})})


@pytest.mark.vcr
@pytest.mark.default_cassette("write_create")
def test_resolve_then_create_sends_the_documented_body(vcr):
    source = connector()
    call = example_call()
    resolved = source.resolve(call, WriteOptions())
    assert resolved == Resolved(LINKS)  # the deal both of Jane's activities are filed under
    assert source.create(call, call.call_uid, resolved).remote_id == LOG_ID
    assert vcr.all_played


@pytest.mark.vcr
@pytest.mark.default_cassette("write_main_line")
def test_a_main_line_is_decided_by_email_or_parked_and_email_is_the_fallback(vcr):
    source = connector()
    mary = source.resolve(to("+12125550100", "Mary@Roe.example"), WriteOptions())
    assert isinstance(mary, Resolved)
    assert (mary.links["person_id"], mary.links["deal_id"]) == (333222113, None)

    parked = source.resolve(to("+12125550100", "nobody@roe.example"), WriteOptions())
    assert isinstance(parked, Parked)
    assert parked.candidates == ("333222112", "333222113")
    assert "2 Pipedrive persons share +12125550100" in parked.reason

    jane = source.resolve(to("+16175550142", "jane@doe.example"), WriteOptions())
    assert isinstance(jane, Resolved)
    assert jane.links == {**LINKS, "deal_id": None, "lead_id": LEAD}
    assert vcr.all_played


@pytest.mark.vcr
@pytest.mark.default_cassette("write_find")
def test_find_by_marker_reads_one_activity_page_and_one_log_page(vcr):
    call = example_call()
    assert connector().find_by_marker(call.call_uid, call) == LOG_ID
    assert vcr.all_played  # the task quoting the marker is not a call: skipped


@pytest.mark.vcr
@pytest.mark.default_cassette("write_update")
def test_an_edited_note_patches_only_the_note(vcr):
    call = example_call(note="Demo booked for Monday")
    connector().update(LOG_ID, call, Resolved(LINKS))
    assert vcr.all_played


@pytest.mark.vcr
@pytest.mark.default_cassette("write_cannot_update")
def test_a_changed_outcome_cannot_be_updated(vcr):
    call = example_call(outcome=Outcome.BUSY, started_at=datetime(2024, 3, 20, 14, 6, tzinfo=UTC))
    with pytest.raises(CannotUpdate) as raised:
        connector().update(LOG_ID, call, Resolved(LINKS))
    assert raised.value.field == "outcome"
    assert "outcome, started_at, ended_at" in str(raised.value)
    assert vcr.all_played


@pytest.mark.vcr
@pytest.mark.default_cassette("write_delete")
def test_delete_removes_the_log_then_its_activity_and_again_is_a_no_op(vcr):
    source = connector()
    source.delete(LOG_ID)
    source.delete(LOG_ID)
    assert vcr.all_played


@pytest.mark.vcr
@pytest.mark.default_cassette("write_recording")
def test_the_recording_is_one_multipart_file_part_and_a_second_is_already_there(vcr):
    source = connector()
    call = example_call()
    for _ in range(2):
        source.attach_recording(
            LOG_ID, call, iter([b"ID3-fake", b"", b"-audio-frames"]), "audio/mpeg"
        )
    assert vcr.all_played
