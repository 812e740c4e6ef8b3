"""The Pipedrive write path against its emulator: create, find_by_marker after a lost
answer, reading written calls back, update through the activity, delete, account labels and
streamed recordings. (Resolution: test_pipedrive_resolve.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectors.base import CannotUpdate
from connectors.emulation import FaultKind
from connectors.pipedrive.locate import MarkerSearchError
from connectors.pipedrive.upload import RecordingUploadError
from syncer.errors import AmbiguousWriteError, MappingFailure
from syncer.model import Outcome, Party
from tests.connectors.pipedrive.harness import make_harness
from tests.connectors.pipedrive.pulls import pulled, requests
from tests.connectors.pipedrive.writes import ACTIVITIES, LIST, ready, resolved, written
from tests.connectors.test_write_contract import store_source_calls

# --- create and find_by_marker --------------------------------------------------------------------


def test_create_then_find_by_marker_finds_it_cheaply(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    before = harness.remote_count()
    remote_id = written(connector, call)
    assert harness.remote_count() == before + 1
    log = harness.emulator.call_log(remote_id)
    assert log is not None and f"callsync:{call.call_uid}" in log["note"]
    harness.emulator.stats.reset()
    assert harness.connector(engine).find_by_marker(call.call_uid, call) == remote_id
    # One activity page (10 tokens) and one call-log page (20): users are cached.
    assert requests(harness) == {ACTIVITIES: 1, LIST: 1}


def test_a_lost_create_answer_is_ambiguous_and_the_record_is_found(engine):
    harness, connector = ready(engine, calls=300)
    call = harness.writable_call(4)
    links = resolved(connector, call)
    harness.faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path=harness.create_path())
    before = harness.remote_count()
    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, links)
    assert harness.remote_count() == before + 1  # committed, answer lost, never resent
    harness.emulator.stats.reset()
    remote_id = harness.connector(engine).find_by_marker(call.call_uid, call)
    assert remote_id is not None
    log = harness.emulator.call_log(remote_id)
    assert log is not None and call.call_uid in log["note"]
    # 301 logs: page 0, doubling to 400 (empty), bisecting to 300, then back from the end.
    assert requests(harness)[LIST] <= 7


def test_a_5xx_on_create_is_ambiguous_too(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(2)
    links = resolved(connector, call)
    harness.faults.script(
        FaultKind.SERVER_ERROR, method="POST", path=harness.create_path(), status=502
    )
    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, links)
    assert connector.find_by_marker(call.call_uid, call) is None  # it did not commit


def test_a_call_never_created_is_not_found(engine):
    harness, connector = ready(engine)
    written(connector, harness.writable_call(0))
    other = harness.writable_call(1)
    harness.emulator.stats.reset()
    assert connector.find_by_marker(other.call_uid, other) is None
    assert requests(harness) == {ACTIVITIES: 1}  # no list page when no activity matches


def test_the_log_search_is_capped_and_asks_for_a_later_try(engine):
    harness, _ = ready(engine, calls=300, settings={"marker_search_pages": 2})
    connector = harness.connector(engine)
    call = harness.writable_call(0)
    written(connector, call)
    with pytest.raises(MarkerSearchError, match="marker_search_pages"):
        connector.find_by_marker(call.call_uid, call)


def test_the_read_index_spares_the_list(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    harness.settle()
    assert pulled(harness, engine).ok
    harness.emulator.stats.reset()
    assert harness.connector(engine).find_by_marker(call.call_uid, call) == remote_id
    assert requests(harness) == {ACTIVITIES: 1}


def test_written_calls_read_back_field_by_field(engine):
    harness, connector = ready(engine)
    calls = [harness.writable_call(i) for i in range(8)]
    ids = [written(connector, call) for call in calls]
    store_source_calls(engine, calls)  # the calls these records copy
    harness.settle()
    assert pulled(harness, engine).ok
    for call, remote_id in zip(calls, ids, strict=True):
        back = harness.read_back(engine, remote_id)
        assert back.copy_of == call.call_uid
        for name in harness.round_trip_fields():
            assert getattr(back, name) == getattr(call, name), (remote_id, name)


# --- update and delete ----------------------------------------------------------------------------


def test_an_edited_note_is_patched_on_the_activity(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    store_source_calls(engine, [call])
    edited = call.model_copy(update={"note": "Now: demo booked"})
    connector.update(remote_id, edited, resolved(connector, edited))
    log = harness.emulator.call_log(remote_id)
    assert log is not None
    activity = harness.emulator.activity(log["activity_id"])
    assert activity is not None
    assert activity["note"] == f"<p>Now: demo booked</p><p>callsync:{call.call_uid}</p>"
    harness.settle()
    assert pulled(harness, engine).ok
    assert harness.read_back(engine, remote_id).note == "Now: demo booked"


def test_an_unchanged_call_costs_no_patch(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    harness.emulator.stats.reset()
    connector.update(remote_id, call, resolved(connector, call))
    assert "PATCH /api/v2/activities/{id}" not in requests(harness)


def test_what_only_the_log_holds_cannot_be_updated(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    changed = call.model_copy(update={"outcome": Outcome.BUSY, "note": "busy after all"})
    with pytest.raises(CannotUpdate) as raised:
        connector.update(remote_id, changed, resolved(connector, changed))
    assert raised.value.field == "outcome"
    log = harness.emulator.call_log(remote_id)
    assert log is not None and log["outcome"] == "connected"
    activity = harness.emulator.activity(log["activity_id"])
    assert activity is not None and "busy after all" in activity["note"]  # what it could hold


def test_a_log_written_for_another_rep_is_updated_through_its_activity(engine):
    """The token user cannot read a call log it logged for another rep (Pipedrive shows a log
    only to its owner): an edit still reaches the activity, and the log itself is reported as
    unchangeable, never as a failure retried on every run."""
    harness, admin = ready(engine, users=2)
    _, rep_id = harness.emulator.user_ids()
    rep = harness.emulator.store.user(rep_id)
    assert rep is not None
    call = harness.writable_call(0).model_copy(update={"user": Party(email=rep["email"])})
    remote_id = written(admin, call)
    edited = call.model_copy(update={"note": "Now: demo booked"})
    with pytest.raises(CannotUpdate) as raised:
        admin.update(remote_id, edited, resolved(admin, edited))
    assert raised.value.field == "call log"
    assert "only to its owner" in str(raised.value)
    log = harness.emulator.call_log(remote_id)
    assert log is not None and log["user_id"] == rep_id
    activity = harness.emulator.activity(log["activity_id"])
    assert activity is not None and "Now: demo booked" in activity["note"]


def test_a_log_written_for_another_rep_takes_no_recording_and_its_own_does(engine):
    """Pipedrive lets only a log's owner upload to it: asked before the source's recording
    is opened, so no (hourly paced) download is spent on a file the target refuses."""
    harness, admin = ready(engine, users=2)
    _, rep_id = harness.emulator.user_ids()
    rep = harness.emulator.store.user(rep_id)
    assert rep is not None
    own = harness.writable_call(0)
    theirs = harness.writable_call(1).model_copy(update={"user": Party(email=rep["email"])})
    own_log, their_log = written(admin, own), written(admin, theirs)
    harness.emulator.stats.reset()
    assert admin.refuses_recording(own_log) is None
    assert admin.refuses_recording(their_log) == (
        "Pipedrive takes a recording only from the call log's owner"
    )
    assert requests(harness) == {}  # decided from what the creates answered


def test_delete_removes_the_log_and_its_activity_and_is_idempotent(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    log = harness.emulator.call_log(remote_id)
    assert log is not None
    connector.delete(remote_id)
    assert harness.emulator.call_log(remote_id) is None
    activity = harness.emulator.activity(log["activity_id"])
    assert activity is not None and activity["is_deleted"] is True
    connector.delete(remote_id)  # 410 and 404: already gone


# --- account labels and recordings ----------------------------------------------------------------


def test_account_labels_are_the_six_outcomes(engine):
    _, connector = ready(engine)
    labels = connector.account_labels()
    assert [(label.kind, label.id) for label in labels] == [
        ("outcome", value)
        for value in ("connected", "no_answer", "left_message", "left_voicemail",
                      "wrong_number", "busy")
    ]  # fmt: skip
    assert labels[2].detail == "message_left"


class Streamed(httpx.BaseTransport):
    """Records how the upload left the client before the emulator reads it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.uploads: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/recordings"):
            self.uploads.append(request)
        return self.inner.handle_request(request)


def test_a_multi_megabyte_recording_is_streamed_intact(engine):
    seen: list[Streamed] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        seen.append(Streamed(inner))
        return seen[-1]

    harness, connector = ready(engine, wrap=wrap)
    assert connector.write_support.recording_file
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    audio = bytes(range(256)) * (3 * 4096) + b"\r\n--tail"  # 3 MiB and a boundary-like end
    pulled_chunks: list[int] = []

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(audio), 64 * 1024):
            pulled_chunks.append(start)
            yield audio[start : start + 64 * 1024]

    connector.attach_recording(remote_id, call, chunks(), "audio/mpeg")
    assert harness.emulator.recording_bytes(remote_id) == audio
    request = seen[-1].uploads[0]
    assert request.headers["transfer-encoding"] == "chunked"  # no length: never buffered
    assert "content-length" not in request.headers
    assert len(pulled_chunks) == 49
    stored = harness.emulator.store.recordings.get(remote_id)
    assert stored is not None and stored["filename"] == f"{call.call_uid}.mp3"


def test_a_second_upload_is_already_there(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    connector.attach_recording(remote_id, call, iter([b"ID3first"]), "audio/mpeg")
    connector.attach_recording(remote_id, call, iter([b"ID3second"]), "audio/mpeg")  # 409
    assert harness.emulator.recording_bytes(remote_id) == b"ID3first"


def test_only_audio_is_uploaded(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    harness.emulator.stats.reset()
    with pytest.raises(MappingFailure, match="audio"):
        connector.attach_recording(remote_id, call, iter([b"%PDF"]), "application/pdf")
    assert harness.emulator.stats.total == 0


def test_a_rate_limited_upload_is_not_resent_empty(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    harness.faults.script(FaultKind.RATE_LIMIT, method="POST", path="/recordings$")
    with pytest.raises(RecordingUploadError):
        connector.attach_recording(remote_id, call, iter([b"ID3audio"]), "audio/mpeg")
    assert harness.emulator.recording_bytes(remote_id) is None
    connector.attach_recording(remote_id, call, iter([b"ID3audio"]), "audio/mpeg")  # later run
    assert harness.emulator.recording_bytes(remote_id) == b"ID3audio"


def test_a_lost_upload_answer_is_retried_later_and_found_there(engine):
    harness, connector = ready(engine)
    call = harness.writable_call(0)
    remote_id = written(connector, call)
    harness.faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path="/recordings$")
    with pytest.raises(RecordingUploadError):
        connector.attach_recording(remote_id, call, iter([b"ID3audio"]), "audio/mpeg")
    connector.attach_recording(remote_id, call, iter([b"ID3audio"]), "audio/mpeg")  # 409
    assert harness.emulator.recording_bytes(remote_id) == b"ID3audio"


def test_writable_calls_are_deterministic_and_resolvable_calls_are_not(engine):
    first, second = make_harness(), make_harness()
    assert first.writable_call(3) == second.writable_call(3)
    assert first.writable_call(3) != first.writable_call(4)
    assert first.unresolvable_call(3).contact != first.writable_call(3).contact
