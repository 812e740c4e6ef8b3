"""The Amplemarket write path end to end against the emulator, on both database backends.

Resolution (user, contact by number then email, task), create, find_by_marker after a lost
answer, update (immutable), dispositions and their side effects, account labels, the read
path's view of a logged call, and dialer recordings streamed under their own pace.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from connectors.amplemarket.connector import AmplemarketConnector
from connectors.amplemarket.cursor import iso
from connectors.amplemarket.emulator.recording import fake_mp3, recording_size
from connectors.amplemarket.writer import UncertainMatch
from connectors.base import CannotUpdate, Cursor, Parked, Resolved, WriteOptions
from connectors.emulation import FaultKind, FaultPlan
from syncer.config import RouteConfig
from syncer.errors import AmbiguousWriteError, VendorError
from syncer.identities import DatabaseIdentityCache
from syncer.model import Call, Outcome, Party, PhoneNumber, SourceIdentity
from syncer.push import Pusher
from syncer.store import ledger, repo
from tests.connectors.amplemarket.harness import CONNECTION, AmplemarketHarness

MAIN_LINE = "+12125559000"
OPTIONS = WriteOptions()


def make_harness(**settings: Any) -> AmplemarketHarness:
    harness = AmplemarketHarness(faults=FaultPlan(), **settings)
    harness.write_world()
    return harness


@pytest.fixture
def amp() -> AmplemarketHarness:
    return make_harness()


def connect(harness: AmplemarketHarness, engine: sa.Engine) -> AmplemarketConnector:
    cache = DatabaseIdentityCache(engine, CONNECTION)
    return harness.connector(engine, identities=cache)


@pytest.fixture
def connector(amp, engine):
    connector = connect(amp, engine)
    yield connector
    connector.close()


def world_ids(amp: AmplemarketHarness, call: Call) -> tuple[str, str, str]:
    """(user id, contact id, task id) the emulator gave the call's world user and contact."""
    world = amp.write_world()
    assert call.user is not None
    assert call.contact is not None
    user = next(u for u in world.user_list if u.email == call.user.email)
    contact = next(c for c in world.contact_list if c.email == call.contact.email)
    return (
        amp.emulator.user_id_for(user.key),
        amp.emulator.contact_id_for(contact.key),
        amp.emulator.task_id_for(user.key, contact.key),
    )


def to_person(call: Call, *, phone: str, email: str | None, external_id: str) -> Call:
    """``call`` to another person (outbound)."""
    return call.model_copy(
        update={
            "source": SourceIdentity(system="fake", connection="src", external_id=external_id),
            "to_number": PhoneNumber.parse(phone),
            "contact": Party(email=email, phone=PhoneNumber.parse(phone)),
        }
    )


def called_before(
    amp: AmplemarketHarness, user_id: str, name: str, email: str, phone: str, *, task: bool = True
) -> dict[str, Any]:
    """A contact with (optionally) a task of ``user_id`` and one earlier dialer call."""
    contact = amp.emulator.add_contact(name, email, phone=phone)
    owner_id = (
        user_id if task else str(amp.emulator.add_user("Other", "o@x.test", phone="+1")["id"])
    )
    made = amp.emulator.add_task(owner_id, contact["id"])
    amp.emulator.add_call(user_id=owner_id, to=phone, duration=30, task_id=made["id"])
    return contact


def logged(amp: AmplemarketHarness, remote_id: str) -> dict[str, Any]:
    found = amp.emulator.get_call(remote_id)
    assert found is not None, remote_id
    return found


def task_status(amp: AmplemarketHarness, task_id: str) -> str:
    task = amp.emulator.get_task(task_id)
    assert task is not None, task_id
    return str(task["status"])


# --- resolution ---------------------------------------------------------------------------------


def test_writable_call_resolves_to_its_user_contact_and_task(amp, connector):
    call = amp.writable_call(0)

    resolved = connector.resolve(call, OPTIONS)

    user_id, contact_id, task_id = world_ids(amp, call)
    assert resolved == Resolved(
        {
            "user_id": user_id,
            "task_id": task_id,
            "contact_id": contact_id,
            "contact_keyword": call.contact.email,
        }
    )


def test_inbound_call_resolves_by_its_caller(amp, connector):
    call = amp.writable_call(4)  # inbound: the person is `from`

    resolved = connector.resolve(call, OPTIONS)

    assert isinstance(resolved, Resolved)
    assert resolved.links["contact_id"] == world_ids(amp, call)[1]


def test_lookups_are_cached_in_the_database(amp, connector, engine):
    call = amp.writable_call(1)
    first = connector.resolve(call, OPTIONS)
    asked = amp.emulator.stats.total
    amp.emulator.stats.reset()

    again = connect(amp, engine).resolve(call, OPTIONS)  # a new connector, the same database

    assert again == first
    assert amp.emulator.stats.total == 0
    assert asked == 1 + 5 + 1  # the user, the number in its five written forms, the tasks
    cache = DatabaseIdentityCache(engine, CONNECTION)
    assert cache.get("user", call.user.email) == {"id": first.links["user_id"]}
    assert cache.get("phone", call.to_number.e164) == {"missing": True}  # never called


def test_user_email_case_does_not_matter(amp, connector):
    call = amp.writable_call(2)
    shouting = call.model_copy(update={"user": Party(email=call.user.email.upper())})

    assert connector.resolve(shouting, OPTIONS) == connector.resolve(call, OPTIONS)


def test_missing_person_is_parked_with_the_number(amp, connector, engine):
    call = amp.unresolvable_call(3)

    parked = connector.resolve(call, OPTIONS)

    assert isinstance(parked, Parked)
    assert parked.reason.startswith("no Amplemarket person with +17025550003")
    assert parked.candidates == ()
    cache = DatabaseIdentityCache(engine, CONNECTION)
    assert cache.get("phone", "+17025550003") == {"missing": True}


def test_a_parked_call_resolves_once_the_person_exists(amp, engine):
    call = amp.unresolvable_call(4)
    connector = amp.connector(engine)  # no cache: the miss would be kept for ten minutes
    assert isinstance(connector.resolve(call, OPTIONS), Parked)

    amp.make_resolvable(call)

    assert isinstance(connector.resolve(call, OPTIONS), Resolved)


def test_create_missing_contacts_cannot_create_in_amplemarket(amp, connector):
    parked = connector.resolve(amp.unresolvable_call(5), WriteOptions(create_missing_contacts=True))

    assert isinstance(parked, Parked)
    assert "+17025550005" in parked.reason
    assert "cannot create contacts or tasks" in parked.reason
    assert amp.emulator.store.contacts.count() == len(amp.write_world().contacts_in("amplemarket"))


def test_unknown_user_is_parked(amp, connector):
    call = amp.writable_call(0).model_copy(update={"user": Party(email="ghost@nowhere.test")})

    assert connector.resolve(call, OPTIONS) == Parked("no Amplemarket user with ghost@nowhere.test")


def test_call_without_a_number_is_parked(amp, connector):
    call = amp.writable_call(0).model_copy(update={"from_number": None})

    parked = connector.resolve(call, OPTIONS)

    assert isinstance(parked, Parked)
    assert "no `from` number" in parked.reason


def test_contact_called_before_is_found_by_number_in_any_written_form(amp, connector):
    user_id = world_ids(amp, amp.writable_call(0))[0]
    contact = called_before(amp, user_id, "Dora Dial", "dora@dial.example", "(415) 555-0123")
    call = to_person(amp.writable_call(0), phone="+14155550123", email=None, external_id="d1")

    resolved = connector.resolve(call, OPTIONS)

    assert isinstance(resolved, Resolved)
    assert resolved.links["contact_id"] == contact["id"]


def test_contact_without_a_task_of_the_user_is_parked(amp, connector):
    user_id = world_ids(amp, amp.writable_call(0))[0]
    called_before(amp, user_id, "Ned None", "ned@none.example", "+14155550124", task=False)
    call = to_person(amp.writable_call(0), phone="+14155550124", email=None, external_id="n1")

    parked = connector.resolve(call, OPTIONS)

    assert isinstance(parked, Parked)
    assert "has no scheduled manual phone_call task" in parked.reason


def main_line(amp: AmplemarketHarness, user_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ann = called_before(amp, user_id, "Ann Able", "ann@acme.example", "+1 212-555-9000")
    bob = called_before(amp, user_id, "Bob Baker", "bob@acme.example", MAIN_LINE)
    return ann, bob


def test_main_line_is_decided_by_the_source_email(amp, connector):
    user_id = world_ids(amp, amp.writable_call(0))[0]
    _, bob = main_line(amp, user_id)
    call = to_person(
        amp.writable_call(0), phone=MAIN_LINE, email="BOB@acme.example", external_id="m1"
    )

    resolved = connector.resolve(call, OPTIONS)

    assert isinstance(resolved, Resolved)
    assert resolved.links["contact_id"] == bob["id"]


def test_main_line_still_ambiguous_is_parked_with_candidates(amp, connector):
    user_id = world_ids(amp, amp.writable_call(0))[0]
    ann, bob = main_line(amp, user_id)
    call = to_person(
        amp.writable_call(0), phone=MAIN_LINE, email="carol@acme.example", external_id="m2"
    )

    parked = connector.resolve(call, OPTIONS)

    assert isinstance(parked, Parked)
    assert MAIN_LINE in parked.reason
    assert set(parked.candidates) == {ann["id"], bob["id"]}


def test_main_line_is_decided_by_the_only_open_task(amp, connector):
    user_id = world_ids(amp, amp.writable_call(0))[0]
    ann = called_before(amp, user_id, "Ann Able", "ann@acme.example", MAIN_LINE)
    called_before(amp, user_id, "Bob Baker", "bob@acme.example", MAIN_LINE, task=False)
    call = to_person(amp.writable_call(0), phone=MAIN_LINE, email=None, external_id="m3")

    resolved = connector.resolve(call, OPTIONS)

    assert isinstance(resolved, Resolved)
    assert resolved.links["contact_id"] == ann["id"]


# --- create and find_by_marker ----------------------------------------------------------------


def write(connector: AmplemarketConnector, call: Call) -> str:
    resolved = connector.resolve(call, OPTIONS)
    assert isinstance(resolved, Resolved), resolved
    return connector.create(call, call.call_uid, resolved).remote_id


def test_create_logs_the_call_on_the_task(amp, connector):
    call = amp.writable_call(0)
    before = amp.remote_count()

    remote_id = write(connector, call)

    user_id, contact_id, task_id = world_ids(amp, call)
    logged = amp.emulator.get_call(remote_id)
    assert amp.remote_count() == before + 1
    assert logged["external"] is True
    assert logged["start_date"] == iso(amp.clock.now())  # the time of logging, not the call's
    assert (logged["user_id"], logged["task_id"], logged["contact"]["id"]) == (
        user_id,
        task_id,
        contact_id,
    )
    assert (logged["from"], logged["to"]) == (call.from_number.e164, call.to_number.e164)
    assert (logged["duration"], logged["answered"], logged["human"]) == (20, True, True)
    assert logged["transcription"] == f"{call.transcript}\n\n[callsync:{call.call_uid}]"
    assert logged["recording_url"] == call.recording_url
    assert logged["disposition_id"] is None
    assert task_status(amp, task_id) == "scheduled"


def test_find_by_marker_finds_the_created_call_and_nothing_else(amp, connector):
    call, other = amp.writable_call(1), amp.writable_call(7)
    assert connector.find_by_marker(call.call_uid, call) is None

    remote_id = write(connector, call)
    twin = call.model_copy(
        update={"source": SourceIdentity(system="fake", connection="src", external_id="w1-twin")}
    )

    assert connector.find_by_marker(call.call_uid, call) == remote_id
    assert connector.find_by_marker(twin.call_uid, twin) is None  # same fields, its own marker
    assert connector.find_by_marker(other.call_uid, other) is None


@pytest.mark.parametrize("index", [2, 4])  # outbound, inbound
def test_find_by_marker_costs_one_request(amp, connector, index):
    call = amp.writable_call(index)
    remote_id = write(connector, call)
    amp.emulator.stats.reset()

    assert connector.find_by_marker(call.call_uid, call) == remote_id
    assert dict(amp.emulator.stats.by_route) == {"GET /calls": 1}


def test_lost_answer_is_ambiguous_then_the_committed_call_is_found(amp, connector):
    call = amp.writable_call(3)
    resolved = connector.resolve(call, OPTIONS)
    before = amp.remote_count()
    amp.emulator.faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path=amp.create_path())

    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, resolved)

    assert amp.remote_count() == before + 1  # committed, answer lost
    found = connector.find_by_marker(call.call_uid, call)
    assert found is not None
    assert amp.emulator.get_call(found)["transcription"].endswith(f"[callsync:{call.call_uid}]")
    assert amp.remote_count() == before + 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_on_create_is_ambiguous(amp, connector, status):
    call = amp.writable_call(5)
    resolved = connector.resolve(call, OPTIONS)
    amp.emulator.faults.script(
        FaultKind.SERVER_ERROR, method="POST", path=amp.create_path(), status=status
    )

    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, resolved)

    # This emulated failure came before the insert: nothing to adopt, a create is safe.
    assert connector.find_by_marker(call.call_uid, call) is None
    assert connector.create(call, call.call_uid, resolved).remote_id


def test_unreadable_created_body_is_ambiguous(amp, connector):
    call = amp.writable_call(6)
    resolved = connector.resolve(call, OPTIONS)
    amp.emulator.faults.script(FaultKind.MALFORMED, method="POST", path=amp.create_path())

    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, resolved)

    assert connector.find_by_marker(call.call_uid, call) is not None


def test_without_the_marker_a_lone_lookalike_is_adopted_and_twins_are_refused(engine):
    amp = make_harness(marker_in_transcription=False)
    connector = connect(amp, engine)
    call = amp.writable_call(1)  # unanswered, 0 seconds: easy to repeat
    twin = call.model_copy(
        update={"source": SourceIdentity(system="fake", connection="src", external_id="w1-twin")}
    )

    first = write(connector, call)
    assert logged(amp, first)["transcription"] is None
    assert connector.find_by_marker(call.call_uid, call) == first
    write(connector, twin)

    with pytest.raises(UncertainMatch, match="2 logged calls match"):
        connector.find_by_marker(call.call_uid, call)


def test_marker_edited_away_still_finds_the_call(amp, connector):
    call = amp.writable_call(3)
    remote_id = write(connector, call)
    amp.emulator.edit_call(remote_id, transcription="Rep: cleaned up by hand")

    assert connector.find_by_marker(call.call_uid, call) == remote_id


def test_refused_task_is_a_vendor_error_and_is_looked_up_again(amp, connector):
    call = amp.writable_call(0)
    resolved = connector.resolve(call, OPTIONS)
    task = amp.emulator.store.tasks.get(resolved.links["task_id"])
    amp.emulator.store.put_task({**task, "status": "completed"})  # done in the UI meanwhile

    with pytest.raises(VendorError) as refused:
        connector.create(call, call.call_uid, resolved)

    assert refused.value.status == 400
    assert not isinstance(refused.value, AmbiguousWriteError)
    amp.emulator.stats.reset()
    again = connector.resolve(call, OPTIONS)
    # Looked up again (not the cached task): the person is only reachable through an open
    # task, and has none left.
    assert amp.emulator.stats.by_route["GET /tasks"] == 1
    assert isinstance(again, Parked)
    assert again.reason.startswith("no Amplemarket person with")


# --- dispositions --------------------------------------------------------------------------------


def disposition_of(amp: AmplemarketHarness, remote_id: str) -> str | None:
    name: str | None = logged(amp, remote_id)["disposition_name"]
    return name


def test_configured_disposition_is_logged(engine):
    amp = make_harness(dispositions={"connected": "interested", "no_answer": "No answer"})
    connector = connect(amp, engine)

    connected, unanswered = amp.writable_call(0), amp.writable_call(1)
    voicemail = amp.writable_call(2)

    assert disposition_of(amp, write(connector, connected)) == "Interested"
    assert disposition_of(amp, write(connector, unanswered)) == "No answer"
    assert disposition_of(amp, write(connector, voicemail)) is None  # not configured


def completing(
    engine: sa.Engine, allow: bool
) -> tuple[AmplemarketHarness, AmplemarketConnector, Call, dict[str, Any], str]:
    amp = make_harness(
        dispositions={Outcome.CONNECTED: "Meeting booked"}, allow_completing_dispositions=allow
    )
    connector = connect(amp, engine)
    # A connected call to a contact in the user's sequence (seeding puts 7 in 10 there).
    for index in range(0, 30, 3):
        call = amp.writable_call(index)
        _, contact_id, task_id = world_ids(amp, call)
        task = amp.emulator.get_task(task_id)
        assert task is not None
        if task["sequence_key"] is not None:
            return amp, connector, call, task, contact_id
    raise AssertionError("no sequenced contact")


def test_completing_disposition_is_withheld_by_default(engine):
    amp, connector, call, task, contact_id = completing(engine, allow=False)

    remote_id = write(connector, call)

    assert disposition_of(amp, remote_id) is None
    assert task_status(amp, task["id"]) == "scheduled"
    assert amp.emulator.lead_status(task["sequence_key"], contact_id) == "active"


def test_completing_disposition_when_allowed_completes_task_and_lead(engine):
    amp, connector, call, task, contact_id = completing(engine, allow=True)

    remote_id = write(connector, call)

    assert disposition_of(amp, remote_id) == "Meeting booked"
    assert task_status(amp, task["id"]) == "completed"
    assert amp.emulator.lead_status(task["sequence_key"], contact_id) == "completed"
    # The cached task is forgotten: the next call to that person looks again (and parks).
    later = call.model_copy(
        update={"source": SourceIdentity(system="fake", connection="src", external_id="later")}
    )
    amp.emulator.stats.reset()
    parked = connector.resolve(later, OPTIONS)
    assert amp.emulator.stats.by_route["GET /tasks"] == 1
    assert isinstance(parked, Parked)


def test_unknown_disposition_name_is_skipped(engine):
    amp = make_harness(dispositions={"connected": "Does not exist"})

    remote_id = write(connect(amp, engine), amp.writable_call(0))

    assert disposition_of(amp, remote_id) is None


def test_account_labels_are_the_dispositions_with_their_actions(connector):
    labels = connector.account_labels()

    assert {(label.kind, label.label, label.detail) for label in labels} >= {
        ("disposition", "Interested", "next_stage"),
        ("disposition", "Meeting booked", "complete"),
    }
    assert len(labels) == 8
    assert all(label.id for label in labels)


# --- update and delete -------------------------------------------------------------------------


def test_update_of_fields_amplemarket_does_not_hold_is_a_no_op(amp, connector):
    call = amp.writable_call(0)
    remote_id = write(connector, call)
    resolved = connector.resolve(call, OPTIONS)
    changed = call.model_copy(
        update={"note": "edited", "started_at": call.started_at.replace(second=1)}
    )

    connector.update(remote_id, changed, resolved)  # nothing to change: no error

    assert amp.remote_count() == amp.emulator.store.calls.count()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_seconds": 999}, "duration_seconds"),
        ({"outcome": Outcome.NO_ANSWER}, "outcome"),
        ({"transcript": "Rep: new words"}, "transcript"),
        ({"recording_url": "https://recordings.example.com/other.mp3"}, "recording_url"),
    ],
)
def test_update_of_a_held_field_names_it(amp, connector, change, field):
    call = amp.writable_call(0)
    remote_id = write(connector, call)
    resolved = connector.resolve(call, OPTIONS)

    with pytest.raises(CannotUpdate) as cannot:
        connector.update(remote_id, call.model_copy(update=change), resolved)

    assert cannot.value.field == field


def test_update_of_a_call_deleted_in_the_ui(amp, connector):
    call = amp.writable_call(0)
    remote_id = write(connector, call)
    amp.emulator.delete_call(remote_id)

    with pytest.raises(CannotUpdate) as cannot:
        connector.update(remote_id, call, connector.resolve(call, OPTIONS))

    assert cannot.value.field == "call"


def test_logged_calls_cannot_be_deleted(connector):
    support = connector.write_support

    assert (support.create, support.update, support.delete) == (True, False, False)
    assert support.recording_file is False  # Amplemarket takes a recording URL
    with pytest.raises(NotImplementedError, match="cannot delete"):
        connector.delete("0199ba60-f7c0-7a3c-9d21-4b6f0e8c2a57")


# --- reading back -------------------------------------------------------------------------------


def read_back(amp: AmplemarketHarness, connector: AmplemarketConnector, remote_id: str) -> Call:
    amp.settle()
    for page in connector.read("calls", Cursor()):
        for record in page.records:
            if record["id"] == remote_id:
                return connector.to_call(record)
    raise AssertionError(f"{remote_id} not read back")


@pytest.mark.parametrize("index", [0, 1, 2, 4])
def test_round_trip_fields_survive(amp, connector, index):
    call = amp.writable_call(index)
    back = read_back(amp, connector, write(connector, call))
    table = connector.context.table

    for name in amp.round_trip_fields():
        if name == "outcome":
            assert back.outcome == table.read("outcome", table.write("outcome", call.outcome))
        else:
            assert getattr(back, name) == getattr(call, name), name
    assert back.started_at != call.started_at  # the time of logging
    assert back.direction is None and back.note is None


# --- recordings -----------------------------------------------------------------------------------


def dialer_call(amp: AmplemarketHarness, connector: AmplemarketConnector, **fields: Any) -> Call:
    remote_id = amp.add_call(recorded=True, duration=120, **fields)
    return read_back(amp, connector, remote_id)


def test_open_recording_streams_the_dialer_audio(amp, connector):
    call = dialer_call(amp, connector)

    stream = connector.open_recording(call)
    assert stream is not None
    with stream as chunks:
        parts = list(chunks)

    assert len(parts) > 1  # chunked, never one buffer
    expected = fake_mp3(call.source.external_id, recording_size(120))
    assert b"".join(parts) == expected


def test_open_recording_is_none_for_calls_it_cannot_fetch(amp, connector):
    unrecorded = read_back(amp, connector, amp.add_call(recorded=False))
    logged = read_back(amp, connector, write(connector, amp.writable_call(0)))
    foreign = amp.writable_call(1)

    assert connector.open_recording(unrecorded) is None
    assert connector.open_recording(logged) is None  # external: use its recording_url
    assert connector.open_recording(foreign) is None


def test_gone_recording_is_a_vendor_error(amp, connector):
    call = dialer_call(amp, connector)
    amp.emulator.delete_call(call.source.external_id)

    stream = connector.open_recording(call)
    assert stream is not None
    with pytest.raises(VendorError) as gone, stream:
        pass
    assert gone.value.status == 404


def test_recordings_are_paced_under_fifty_an_hour(amp, connector):
    ids = {amp.add_call(recorded=True, duration=5) for _ in range(70)}
    amp.settle()
    records = [r for page in connector.read("calls", Cursor()) for r in page.records]
    calls = [connector.to_call(r) for r in records if r["id"] in ids]
    assert len(calls) == 70
    started = amp.clock.now()

    for call in calls:
        with connector.open_recording(call) as chunks:
            assert b"".join(chunks)

    assert amp.emulator.stats.statuses.get(429, 0) == 0
    # 10 in the burst, then 40 an hour: the last of 70 waits (70 - 10) / 40 hours.
    assert (amp.clock.now() - started).total_seconds() >= 60 * 3600 / 40 - 1


# --- through the push engine -----------------------------------------------------------------


def test_push_logs_each_call_once_through_a_lost_answer(amp, connector, engine):
    calls = [amp.writable_call(i) for i in range(5)] + [amp.unresolvable_call(0)]
    with engine.begin() as conn:
        repo.upsert_calls(conn, calls)
    route = RouteConfig.model_validate({"from": "src", "to": [CONNECTION]})
    before = amp.remote_count()
    amp.emulator.faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path=amp.create_path())

    first = Pusher(engine, route, connector).run()
    second = Pusher(engine, route, connector).run()

    assert (first.created, first.parked, first.adopted) == (4, 1, 0)  # one answer lost
    assert (second.created, second.parked, second.adopted) == (0, 1, 1)
    assert amp.remote_count() == before + 5  # never twice

    edited = calls[0].model_copy(update={"note": "a note Amplemarket cannot hold"})
    longer = calls[1].model_copy(update={"duration_seconds": 999})
    with engine.begin() as conn:
        repo.upsert_calls(conn, [edited, longer])
    third = Pusher(engine, route, connector).run()

    assert (third.updated, third.stale, third.created) == (1, 1, 0)
    with engine.connect() as conn:
        assert ledger.get(conn, longer.call_uid, CONNECTION).state == "stale"
