"""The Close write path against the emulator: payload, marker, faults, update, delete.

Resolution is in ``test_close_resolve.py``. Every test runs on both database backends (the
identity cache lives in callsync's database).
"""

from __future__ import annotations

import pytest

from connectors.base import CannotUpdate, Parked, WriteOptions
from connectors.close import outbound
from connectors.close.connector import CloseConnector
from connectors.close.marker import split_marker, with_marker
from connectors.emulation import FaultKind, FaultPlan, ScriptedFault
from syncer.errors import AmbiguousWriteError, MappingFailure
from syncer.model import Direction, Outcome
from tests.connectors.close.harness import make_harness
from tests.connectors.close.writing import resolved, wired, write

CREATE = r"^/api/v1/activity/call/$"


# --- payload --------------------------------------------------------------------------------


def test_the_create_body_maps_field_by_field(engine):
    harness = make_harness()
    call = harness.writable_call(0)  # connected, outbound
    connector, recorder = wired(harness, engine)
    written = write(connector, call)
    [body] = recorder.bodies("POST")[-1:]
    links = resolved(connector, call).links
    contact_phone = call.contact.phone.e164 if call.contact and call.contact.phone else None
    assert body == {
        "lead_id": links["lead_id"],
        "contact_id": links["contact_id"],
        "user_id": links["user_id"],
        "direction": "outbound",
        "status": "completed",
        "duration": call.duration_seconds,
        "phone": contact_phone,
        "activity_at": call.started_at.isoformat(),
        "note": f"Write test call 0\n\ncallsync:{call.call_uid}",
        "recording_url": call.recording_url,
    }
    stored = harness.emulator.call(written.remote_id)
    assert stored is not None and stored["source"] == "External"
    assert stored["user_id"] == links["user_id"] and stored["contact_id"] == links["contact_id"]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.CONNECTED, "completed"),
        (Outcome.WRONG_NUMBER, "completed"),
        (Outcome.MESSAGE_LEFT, "completed"),
        (Outcome.NO_ANSWER, "no-answer"),
        (Outcome.VOICEMAIL_LEFT, "no-answer"),  # lossy: no voicemail status in Close
        (Outcome.UNKNOWN, "no-answer"),  # lossy: never claims a conversation
        (Outcome.BUSY, "busy"),
        (Outcome.BLOCKED, "failed"),
        (Outcome.ABANDONED, "cancel"),
    ],
)
def test_the_outcome_becomes_the_call_status(outcome, status):
    harness = make_harness()
    call = harness.writable_call(1).model_copy(update={"outcome": outcome})
    assert outbound.status(call, harness.table) == status


def test_limits_and_formats_are_checked_before_sending(engine):
    harness = make_harness()
    call = harness.writable_call(0)
    connector, recorder = wired(harness, engine)
    links = resolved(connector, call)
    too_long = call.model_copy(update={"duration_seconds": 604_801})
    parked = connector.resolve(too_long, WriteOptions())
    assert isinstance(parked, Parked) and "604800" in parked.reason
    with pytest.raises(MappingFailure, match="604800"):
        connector.create(too_long, too_long.call_uid, links)
    assert not [path for _, path, _ in recorder.sent if path == "/api/v1/activity/call/"]
    insecure = call.model_copy(update={"recording_url": "http://recordings.example.com/a.mp3"})
    body = connector._writer.body(insecure, insecure.call_uid, links)
    assert "recording_url" not in body  # Close takes https only: left out, not rejected
    derived = call.model_copy(update={"duration_seconds": None})
    assert connector._writer.body(derived, derived.call_uid, links)["duration"] == (
        call.duration_seconds
    )
    nothing = call.model_copy(update={"duration_seconds": None, "ended_at": None, "note": None})
    body = connector._writer.body(nothing, nothing.call_uid, links)
    assert "duration" not in body and body["note"] == f"callsync:{call.call_uid}"
    assert harness.remote_count() == 0


def test_without_a_direction_the_contact_number_is_the_phone(engine):
    harness = make_harness()
    call = harness.writable_call(2)  # inbound: the contact is on from_number
    assert call.direction is Direction.INBOUND
    connector = harness.connector(engine)
    links = resolved(connector, call)
    assert call.from_number and call.contact and call.contact.phone
    body = connector._writer.body(call, call.call_uid, links)
    assert body["direction"] == "inbound" and body["phone"] == call.from_number.e164
    unknown = call.model_copy(update={"direction": None, "from_number": None, "to_number": None})
    body = connector._writer.body(unknown, unknown.call_uid, links)
    assert "direction" not in body
    assert body["phone"] == call.contact.phone.e164


def test_a_configured_outcome_goes_to_connected_calls_only(engine):
    harness = make_harness()
    outcomes = {"wrong_number": "wrong  NUMBER", "voicemail_left": "Voicemail dropped"}
    connector = harness.connector(engine, outcomes=outcomes)
    wrong = harness.writable_call(4)
    assert wrong.outcome is Outcome.WRONG_NUMBER
    links = resolved(connector, wrong).links
    assert links["outcome_id"] == harness.emulator.outcome_id("Wrong number")
    record = harness.emulator.call(write(connector, wrong).remote_id)
    assert record is not None and record["outcome_id"] == links["outcome_id"]
    voicemail = harness.writable_call(3)
    assert voicemail.outcome is Outcome.VOICEMAIL_LEFT
    assert resolved(connector, voicemail).links["outcome_id"] is None  # status no-answer
    record = harness.emulator.call(write(connector, voicemail).remote_id)
    assert record is not None and record["outcome_id"] is None
    missing = harness.connector(engine, outcomes={"wrong_number": "No such outcome"})
    parked = missing.resolve(wrong, WriteOptions())
    assert isinstance(parked, Parked) and "No such outcome" in parked.reason


def test_the_marker_can_also_go_to_a_custom_field(engine):
    harness = make_harness()
    field = harness.emulator.add_call_custom_field("callsync marker")
    connector = harness.connector(engine, marker_custom_field_id=field)
    call = harness.writable_call(5)
    written = write(connector, call)
    record = harness.emulator.call(written.remote_id)
    assert record is not None and record[f"custom.{field}"] == call.call_uid
    harness.emulator.edit_call(written.remote_id, note="A rep rewrote the whole note")
    assert connector.find_by_marker(call.call_uid, call) == written.remote_id


def test_the_marker_trailer_round_trips():
    uid = "0b9c6a51-7c0e-5d8e-9a43-0c5e5d1f2a10"
    assert split_marker(with_marker("Asked for pricing", uid)) == ("Asked for pricing", uid)
    assert split_marker(with_marker(None, uid)) == (None, uid)
    assert split_marker(with_marker("two\n\nparagraphs\n", uid)) == ("two\n\nparagraphs\n", uid)
    assert split_marker("callsync: talk about it") == ("callsync: talk about it", None)


# --- create, marker, faults -----------------------------------------------------------------


def test_create_then_find_by_marker(engine):
    harness = make_harness()
    connector = harness.connector(engine)
    calls = [harness.writable_call(i) for i in range(3)]
    written = [write(connector, call) for call in calls]
    harness.emulator.stats.reset()
    for call, done in zip(calls, written, strict=True):
        assert connector.find_by_marker(call.call_uid, call) == done.remote_id
    assert harness.emulator.stats.total == len(calls)  # one bounded list per look-up
    never = harness.writable_call(9)
    assert connector.find_by_marker(never.call_uid, never) is None


def test_a_lost_create_answer_is_ambiguous_then_adopted(engine):
    fault = ScriptedFault(FaultKind.DROP_AFTER_COMMIT, method="POST", path=CREATE)
    harness = make_harness(faults=FaultPlan(scripted=[fault]))
    call = harness.writable_call(10)
    connector = harness.connector(engine)
    links = resolved(connector, call)
    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, links)
    assert harness.remote_count() == 1  # committed once, never resent
    found = harness.connector(engine).find_by_marker(call.call_uid, call)
    assert found is not None and harness.emulator.call(found) is not None
    assert harness.remote_count() == 1


def test_an_unreadable_create_answer_is_ambiguous_too(engine):
    fault = ScriptedFault(FaultKind.MALFORMED, method="POST", path=CREATE)
    harness = make_harness(faults=FaultPlan(scripted=[fault]))
    call = harness.writable_call(11)
    connector = harness.connector(engine)
    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, resolved(connector, call))
    assert harness.remote_count() == 1
    assert connector.find_by_marker(call.call_uid, call) is not None


def test_a_dropped_request_before_the_vendor_leaves_nothing_to_find(engine):
    fault = ScriptedFault(FaultKind.DROP, method="POST", path=CREATE)
    harness = make_harness(faults=FaultPlan(scripted=[fault]))
    call = harness.writable_call(12)
    connector = harness.connector(engine)
    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, resolved(connector, call))
    assert harness.remote_count() == 0
    assert connector.find_by_marker(call.call_uid, call) is None


def test_written_calls_read_back_with_the_round_trip_fields(engine):
    harness = make_harness()
    connector = harness.connector(engine)
    for index in range(7):
        call = harness.writable_call(index)
        record = harness.emulator.call(write(connector, call).remote_id)
        assert record is not None
        back = connector.to_call(record)
        for name in harness.round_trip_fields():
            assert getattr(back, name) == getattr(call, name), (index, name)
        assert back.contact and back.contact.ids["close"] == record["contact_id"]


# --- update, delete, labels -----------------------------------------------------------------


def test_update_sends_only_the_changed_fields(engine):
    harness = make_harness()
    call = harness.writable_call(0)
    connector, recorder = wired(harness, engine, outcomes={"wrong_number": "Wrong number"})
    links = resolved(connector, call)
    remote_id = connector.create(call, call.call_uid, links).remote_id
    connector.update(remote_id, call, links)
    assert recorder.bodies("PUT") == []  # nothing changed: nothing sent
    changed = call.model_copy(
        update={"note": "Asked for a quote", "outcome": Outcome.WRONG_NUMBER, "duration_seconds": 9}
    )
    links = resolved(connector, changed)
    connector.update(remote_id, changed, links)
    assert recorder.bodies("PUT") == [
        {
            "duration": 9,
            "note": f"Asked for a quote\n\ncallsync:{call.call_uid}",
            "outcome_id": harness.emulator.outcome_id("Wrong number"),
        }
    ]
    gone = changed.model_copy(update={"outcome": Outcome.NO_ANSWER})
    connector.update(remote_id, gone, resolved(connector, gone))
    assert recorder.bodies("PUT")[-1] == {"status": "no-answer", "outcome_id": None}
    record = harness.emulator.call(remote_id)
    assert record is not None and record["status"] == "no-answer" and record["outcome_id"] is None


def test_update_cannot_change_the_direction(engine):
    harness = make_harness()
    call = harness.writable_call(0)
    connector = harness.connector(engine)
    links = resolved(connector, call)
    remote_id = connector.create(call, call.call_uid, links).remote_id
    flipped = call.model_copy(update={"direction": Direction.INBOUND})
    with pytest.raises(CannotUpdate) as error:
        connector.update(remote_id, flipped, links)
    assert error.value.field == "direction"


def test_a_close_made_call_keeps_its_media_and_locked_fields(engine):
    harness = make_harness()
    call = harness.writable_call(0)
    connector, recorder = wired(harness, engine)
    links = resolved(connector, call)
    made = harness.emulator.add_close_call(
        lead_id=str(links.links["lead_id"]),
        contact_id=str(links.links["contact_id"]),
        user_id=str(links.links["user_id"]),
        duration=call.duration_seconds,
        phone=call.to_number.e164 if call.to_number else None,
        activity_at=call.started_at,
        recording_url="https://recordings.close-emulator.test/own.mp3",
    )
    connector.update(made["id"], call, links)
    [body] = recorder.bodies("PUT")
    assert "recording_url" not in body and "status" not in body
    record = harness.emulator.call(made["id"])
    assert record is not None
    assert record["recording_url"] == "https://recordings.close-emulator.test/own.mp3"
    with pytest.raises(CannotUpdate) as error:
        connector.update(made["id"], call.model_copy(update={"duration_seconds": 1}), links)
    assert error.value.field == "duration"


def test_delete_removes_the_call_and_tolerates_a_second_delete(engine):
    harness = make_harness()
    connector = harness.connector(engine)
    remote_id = write(connector, harness.writable_call(0)).remote_id
    connector.delete(remote_id)
    assert harness.emulator.call(remote_id) is None
    connector.delete(remote_id)
    assert harness.remote_count() == 0


def test_account_labels_are_the_custom_outcomes(engine):
    harness = make_harness()
    labels = harness.connector(engine).account_labels()
    assert {label.kind for label in labels} == {"outcome"}
    by_name = {label.label: label for label in labels}
    assert by_name["Wrong number"].id == harness.emulator.outcome_id("Wrong number")
    assert by_name["Voicemail dropped"].detail == "vm-dropped"
    assert CloseConnector.write_support.update and CloseConnector.write_support.delete
    assert not CloseConnector.write_support.recording_file
