"""The Close emulator against close-pipedrive.md §1: auth, the call list, call writes, seeding."""

from __future__ import annotations

import base64
import random
import re
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest

from connectors.close.emulator import CloseEmulator
from connectors.emulation import StateDB, World
from connectors.emulation.server import serve

from .test_close_helpers import (
    API,
    all_calls,
    client_for,
    external_call_body,
    first_lead,
    make_emulator,
)

DOC_CALL_FIELDS = {
    "_type", "id", "organization_id", "lead_id", "contact_id", "user_id", "created_by",
    "updated_by", "users", "date_created", "date_updated", "activity_at", "source", "status",
    "direction", "disposition", "call_method", "duration", "cost", "phone", "remote_phone",
    "remote_phone_formatted", "remote_country_iso", "note", "note_html", "outcome_id",
    "recording_url", "voicemail_url", "voicemail_duration", "dialer_id", "dialer_saved_search_id",
}  # fmt: skip
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Many calls duplicated from other tools: those are logged by hourly syncs (date_created ties).
SEEDED_WORLD = World(calls=240, twin_share=0.5)


@pytest.fixture(scope="module")
def seeded() -> CloseEmulator:
    emulator, _ = make_emulator(world=SEEDED_WORLD)
    return emulator


@pytest.fixture
def api(seeded: CloseEmulator) -> Any:
    with client_for(seeded) as client:
        yield client


@pytest.fixture
def fresh() -> tuple[CloseEmulator, Any]:
    return make_emulator(world=World(calls=60))


@pytest.fixture
def rw(fresh: tuple[CloseEmulator, Any]) -> Any:
    """A client on a fresh emulator, for tests that write (the module's seeded one is read-only)."""
    with client_for(fresh[0]) as client:
        yield client


# --- auth ---------------------------------------------------------------------------------------


def test_basic_auth_uses_the_key_as_username_with_an_empty_password(seeded: CloseEmulator) -> None:
    raw = base64.b64encode(f"{seeded.DEMO_API_KEY}:".encode()).decode()
    with client_for(seeded) as client:
        me = client.get(f"{API}/me/", headers={"authorization": f"Basic {raw}"})
    assert me.status_code == 200
    assert me.json()["id"] == CloseEmulator.INTEGRATION_USER_ID
    assert me.json()["organizations"] == [
        {"id": seeded.ORGANIZATION_ID, "name": me.json()["organizations"][0]["name"]}
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Basic " + base64.b64encode(b"api_wrong:").decode()},
        {"authorization": "Bearer " + CloseEmulator.DEMO_API_KEY},  # OAuth is not emulated
        {"authorization": "Basic not-base64!"},
    ],
)
def test_bad_credentials_answer_401_in_close_error_shape(
    seeded: CloseEmulator, headers: dict[str, str]
) -> None:
    with client_for(seeded) as client:
        client.auth = None  # type: ignore[assignment]
        response = client.get(f"{API}/me/", headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert "ratelimit" not in response.headers


def test_paths_keep_closes_trailing_slash_and_methods(api: httpx.Client) -> None:
    assert api.get(f"{API}/activity/call").status_code == 404
    assert api.patch(f"{API}/activity/call/", json={}).status_code == 405
    assert api.get(f"{API}/activity/call/").status_code == 200


# --- list ------------------------------------------------------------------------------------------


def test_list_envelope_and_fields_match_the_documented_example(api: httpx.Client) -> None:
    response = api.get(f"{API}/activity/call/", params={"_limit": 2})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "has_more"}  # no totals, no cursor
    assert body["has_more"] is True and len(body["data"]) == 2
    call = body["data"][0]
    assert set(call) >= DOC_CALL_FIELDS
    assert call["_type"] == "Call" and call["id"].startswith("acti_")
    assert isinstance(call["cost"], str)  # cents as a string (gotcha a)
    assert "recording_transcript" not in call and "voicemail_transcript" not in call


def test_limit_defaults_to_100_and_above_the_max_is_400(api: httpx.Client) -> None:
    default = api.get(f"{API}/activity/call/").json()["data"]
    assert len(default) == min(100, len(all_calls(api)))
    too_many = api.get(f"{API}/activity/call/", params={"_limit": 101})
    assert too_many.status_code == 400
    assert set(too_many.json()) == {"error"}


def test_skip_beyond_max_skip_is_400_naming_max_skip() -> None:
    emulator, _ = make_emulator(world=World(calls=120), max_skip=40)
    with client_for(emulator) as client:
        at_cap = client.get(f"{API}/activity/call/", params={"_skip": 40, "_limit": 5})
        beyond = client.get(f"{API}/activity/call/", params={"_skip": 41, "_limit": 5})
    assert at_cap.status_code == 200
    assert beyond.status_code == 400
    assert "max_skip = 40" in beyond.json()["error"]


def test_skip_walk_returns_every_call_once_newest_first(
    seeded: CloseEmulator, api: httpx.Client
) -> None:
    calls = all_calls(api, limit=7)
    ids = [call["id"] for call in calls]
    assert len(ids) == len(set(ids)) == seeded.last_seed.calls  # type: ignore[union-attr]
    created = [datetime.fromisoformat(call["date_created"]) for call in calls]
    assert created == sorted(created, reverse=True)


def test_skip_with_a_filter_pages_the_filtered_list(
    seeded: CloseEmulator, api: httpx.Client
) -> None:
    user = seeded.user_id_for("u2")
    expected = [call["id"] for call in all_calls(api) if call["user_id"] == user]
    walked = [call["id"] for call in all_calls(api, limit=3, user_id=user)]
    assert walked == expected and expected
    past_end = api.get(f"{API}/activity/call/", params={"user_id": user, "_skip": len(expected)})
    assert past_end.json() == {"data": [], "has_more": False}


def test_date_created_has_many_ties_and_gt_excludes_them(api: httpx.Client) -> None:
    calls = all_calls(api)
    ties = [stamp for stamp, n in Counter(c["date_created"] for c in calls).items() if n > 1]
    assert ties, "whole-second date_created values must tie"
    tie = ties[0]
    same = [c for c in calls if c["date_created"] == tie]
    gte = all_calls(api, date_created__gte=tie, date_created__lte=tie)
    gt = all_calls(api, date_created__gt=tie, date_created__lte=tie)
    assert {c["id"] for c in gte} == {c["id"] for c in same}
    assert gt == []


def test_date_windows_partition_the_list(api: httpx.Client) -> None:
    everything = {c["id"] for c in all_calls(api)}
    first = all_calls(api, date_created__lt="2026-01-09T00:00:00Z")
    second = all_calls(api, date_created__gte="2026-01-09T00:00:00Z")
    assert {c["id"] for c in first} | {c["id"] for c in second} == everything
    assert not {c["id"] for c in first} & {c["id"] for c in second}


def test_date_only_filters_are_read_in_the_x_tz_offset_zone(api: httpx.Client) -> None:
    utc = all_calls(api, date_created__gte="2026-01-09")
    shifted = api.get(
        f"{API}/activity/call/",
        params={"date_created__gte": "2026-01-09", "_limit": 100},
        headers={"x-tz-offset": "-8"},
    ).json()["data"]
    cut = datetime.fromisoformat("2026-01-09T08:00:00+00:00")
    assert all(datetime.fromisoformat(c["date_created"]) >= cut for c in shifted)
    assert len(shifted) < len(utc)


def test_activity_at_filters_and_bad_dates(api: httpx.Client) -> None:
    window = all_calls(
        api, activity_at__gte="2026-01-06T00:00:00Z", activity_at__lt="2026-01-07T00:00:00Z"
    )
    assert window
    for call in window:
        assert "2026-01-06" in call["activity_at"]
    bad = api.get(f"{API}/activity/call/", params={"date_created__gt": "yesterday"})
    assert bad.status_code == 400 and "date_created__gt" in bad.json()["field-errors"]


def test_there_is_no_date_updated_filter_on_calls(api: httpx.Client) -> None:
    # Gotcha h: the parameter does not exist, so it filters nothing.
    assert len(all_calls(api, date_updated__gt="2030-01-01T00:00:00Z")) == len(all_calls(api))


def test_id_lead_contact_filters(api: httpx.Client) -> None:
    calls = [c for c in all_calls(api) if c["lead_id"]]
    one = calls[0]
    by_id = all_calls(api, id__in=f"{one['id']},{calls[1]['id']}")
    assert {c["id"] for c in by_id} == {one["id"], calls[1]["id"]}
    by_lead = all_calls(api, lead_id=one["lead_id"])
    assert by_lead and all(c["lead_id"] == one["lead_id"] for c in by_lead)
    by_contact = all_calls(api, contact_id=one["contact_id"])
    assert by_contact and all(c["contact_id"] == one["contact_id"] for c in by_contact)


def test_fields_restrict_the_response_and_reveal_transcripts(
    seeded: CloseEmulator, api: httpx.Client
) -> None:
    recorded = next(c for c in all_calls(api) if c["recording_url"])
    plain = api.get(f"{API}/activity/call/{recorded['id']}/").json()
    assert "recording_transcript" not in plain
    asked = api.get(
        f"{API}/activity/call/{recorded['id']}/", params={"_fields": "id,recording_transcript"}
    ).json()
    assert set(asked) == {"id", "recording_transcript"}
    utterance = asked["recording_transcript"]["utterances"][0]
    assert set(utterance) == {"speaker_label", "speaker_side", "start", "end", "text"}
    assert {"summary_text", "summary_html"} <= set(asked["recording_transcript"])
    listed = api.get(
        f"{API}/activity/call/", params={"_fields": "id,duration", "_limit": 3}
    ).json()["data"]
    assert all(set(call) == {"id", "duration"} for call in listed)


# --- create / update / delete ----------------------------------------------------------------


def test_post_logs_an_external_call_and_returns_it_with_200(rw: httpx.Client) -> None:
    lead = first_lead(rw)
    response = rw.post(f"{API}/activity/call/", json=external_call_body(lead))
    assert response.status_code == 200
    call = response.json()
    assert call["source"] == "External" and call["call_method"] == "external"
    assert call["status"] == "completed" and call["duration"] == 153 and call["cost"] == "0"
    assert call["note"] == "Synced from Outreach (call 12345)"
    assert call["remote_phone_formatted"] == "+1 650-555-1234"
    assert call["disposition"] is None and "local_phone" not in call
    assert call["activity_at"] == "2024-03-20T14:05:00+00:00"
    assert rw.get(f"{API}/activity/call/{call['id']}/").json() == call


def test_status_defaults_to_completed_and_unsent_integers_are_null(rw: httpx.Client) -> None:
    lead = first_lead(rw)
    body = {"lead_id": lead["id"], "phone": "+16505550000"}
    call = rw.post(f"{API}/activity/call/", json=body).json()
    assert call["status"] == "completed"
    assert call["duration"] is None and call["direction"] is None


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"disposition": "answered"}, "disposition"),  # not in the closed request schema
        ({"remote_phone": "+16505551234"}, "remote_phone"),
        ({"phone": "(650) 555-1234"}, "phone"),  # must be E.164
        ({"recording_url": "http://insecure.example/a.mp3"}, "recording_url"),
        ({"duration": 604_801}, "duration"),
        ({"duration": "60"}, "duration"),
        ({"duration": True}, "duration"),
        ({"status": "done"}, "status"),
        ({"direction": "sideways"}, "direction"),
        ({"lead_id": None}, "lead_id"),
        ({"lead_id": "lead_doesnotexist"}, "lead_id"),
        ({"contact_id": "cont_doesnotexist"}, "contact_id"),
        ({"user_id": "user_nobody"}, "user_id"),
        ({"outcome_id": "outcome_nope"}, "outcome_id"),
        ({"status": "no-answer"}, "outcome_id"),  # outcomes only on connected calls
        ({"activity_at": "not a date"}, "activity_at"),
        ({"custom.cf_unknown": "x"}, "custom.cf_unknown"),
    ],
)
def test_post_validation_answers_400_with_field_errors(
    rw: httpx.Client, override: dict[str, Any], field: str
) -> None:
    lead = first_lead(rw)
    response = rw.post(f"{API}/activity/call/", json=external_call_body(lead, **override))
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"errors", "field-errors"}
    assert field in body["field-errors"]


def test_contact_must_belong_to_the_lead(rw: httpx.Client) -> None:
    leads = rw.get(f"{API}/lead/", params={"_limit": 2}).json()["data"]
    body = external_call_body(leads[0], contact_id=leads[1]["contacts"][0]["id"])
    response = rw.post(f"{API}/activity/call/", json=body)
    assert response.status_code == 400 and "contact_id" in response.json()["field-errors"]


def test_non_json_bodies_are_refused(rw: httpx.Client) -> None:
    wrong_type = rw.post(
        f"{API}/activity/call/", content=b"a=b", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    broken = rw.post(
        f"{API}/activity/call/", content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and "error" in broken.json()


def test_note_and_note_html_overwrite_each_other(rw: httpx.Client) -> None:
    lead = first_lead(rw)
    body = {"lead_id": lead["id"], "note": "a<b\nc"}
    call = rw.post(f"{API}/activity/call/", json=body).json()
    assert call["note_html"] == "a&lt;b<br />c"
    url = f"{API}/activity/call/{call['id']}/"
    updated = rw.put(url, json={"note_html": "<p>Hello <b>there</b></p>"}).json()
    assert updated["note"] == "Hello there"
    both = rw.put(url, json={"note": "plain", "note_html": "<p>rich</p>"}).json()
    assert (both["note"], both["note_html"]) == ("rich", "<p>rich</p>")


def test_put_is_partial_and_bumps_date_updated() -> None:
    emulator, clock = make_emulator(world=World(calls=40))
    with client_for(emulator) as api:
        lead = first_lead(api)
        call = api.post(f"{API}/activity/call/", json=external_call_body(lead)).json()
        clock.advance(90)
        url = f"{API}/activity/call/{call['id']}/"
        updated = api.put(url, json={"outcome_id": emulator.outcome_id("Meeting booked")}).json()
    assert updated["outcome_id"] == emulator.outcome_id("Meeting booked")
    assert datetime.fromisoformat(updated["date_updated"]) > datetime.fromisoformat(
        call["date_updated"]
    )
    unchanged = {k: v for k, v in call.items() if k not in ("outcome_id", "date_updated")}
    assert {k: updated[k] for k in unchanged} == unchanged


def test_put_accepts_only_the_updatable_keys(rw: httpx.Client) -> None:
    lead = first_lead(rw)
    call = rw.post(f"{API}/activity/call/", json=external_call_body(lead)).json()
    url = f"{API}/activity/call/{call['id']}/"
    for key, value in (("direction", "inbound"), ("disposition", "busy"), ("source", "Close.io")):
        response = rw.put(url, json={key: value})
        assert response.status_code == 400 and key in response.json()["field-errors"]
    assert rw.put(f"{API}/activity/call/acti_missing/", json={}).status_code == 404


def test_close_voip_calls_lock_status_and_guard_media(fresh: tuple[CloseEmulator, Any]) -> None:
    seeded = fresh[0]
    with client_for(seeded) as api:
        voip = next(c for c in all_calls(api) if c["source"] == "Close.io" and c["recording_url"])
        url = f"{API}/activity/call/{voip['id']}/"
        locked = api.put(url, json={"status": "busy", "duration": 1})
        assert locked.status_code == 400
        assert {"status", "duration"} <= set(locked.json()["field-errors"])
        # The demo key is not the call's owner and not an admin: no media deletion.
        refused = api.put(url, json={"recording_url": None})
        assert refused.status_code == 400 and "recording_url" in refused.json()["field-errors"]
    seeded.add_api_key("api_admin_key_for_tests", admin=True)
    with client_for(seeded, "api_admin_key_for_tests") as admin:
        assert admin.put(url, json={"recording_url": None}).status_code == 200
        after = admin.get(url, params={"_fields": "recording_url,recording_transcript"}).json()
    assert after == {"recording_url": None, "recording_transcript": None}


def test_delete_answers_empty_object_then_404(rw: httpx.Client) -> None:
    lead = first_lead(rw)
    call = rw.post(f"{API}/activity/call/", json=external_call_body(lead)).json()
    url = f"{API}/activity/call/{call['id']}/"
    deleted = rw.delete(url)
    assert (deleted.status_code, deleted.json()) == (200, {})
    missing = rw.get(url)
    assert missing.status_code == 404 and set(missing.json()) == {"error"}
    assert rw.delete(url).status_code == 404


def test_custom_fields_known_to_the_org_are_accepted(fresh: tuple[CloseEmulator, Any]) -> None:
    seeded = fresh[0]
    field_id = seeded.add_call_custom_field("callsync id")
    with client_for(seeded) as api:
        body = external_call_body(first_lead(api), **{f"custom.{field_id}": "cs-1"})
        call = api.post(f"{API}/activity/call/", json=body).json()
    assert call[f"custom.{field_id}"] == "cs-1"


def test_post_with_method_override_get_lists_calls(api: httpx.Client) -> None:
    calls = all_calls(api)
    ids = [calls[0]["id"], calls[1]["id"]]
    response = api.post(
        f"{API}/activity/call/",
        json={"_params": {"id__in": ids}},
        headers={"x-http-method-override": "GET"},
    )
    assert response.status_code == 200
    assert {c["id"] for c in response.json()["data"]} == set(ids)


# --- outcomes, users -------------------------------------------------------------------------------


def test_outcomes_and_dangling_outcome_ids(fresh: tuple[CloseEmulator, Any]) -> None:
    emulator, _ = fresh
    with client_for(emulator) as api:
        outcomes = api.get(f"{API}/outcome/").json()
        assert set(outcomes) == {"data", "has_more"}
        kinds = {o["name"]: o["type"] for o in outcomes["data"]}
        assert kinds["Voicemail dropped"] == "vm-dropped" and kinds["Interested"] == "custom"
        used = next(c for c in all_calls(api) if c["outcome_id"])
        assert emulator.delete_outcome(used["outcome_id"])
        assert api.get(f"{API}/outcome/{used['outcome_id']}/").status_code == 404
        # The reference stays on the call (dangling) and can no longer be set.
        assert (
            api.get(f"{API}/activity/call/{used['id']}/").json()["outcome_id"] == used["outcome_id"]
        )
        body = external_call_body(first_lead(api), outcome_id=used["outcome_id"])
        assert api.post(f"{API}/activity/call/", json=body).status_code == 400


def test_users_list_names_the_world_users(seeded: CloseEmulator, api: httpx.Client) -> None:
    users = api.get(f"{API}/user/").json()["data"]
    assert seeded.user_id_for("u1") in {u["id"] for u in users}
    one = api.get(f"{API}/user/{seeded.user_id_for('u1')}/").json()
    assert {"id", "first_name", "last_name", "email"} <= set(one)


# --- seeding ----------------------------------------------------------------------------------------


def test_seeded_calls_keep_closes_quirks(seeded: CloseEmulator, api: httpx.Client) -> None:
    calls = all_calls(api)
    made = [c for c in calls if c["source"] == "Close.io"]
    logged = [c for c in calls if c["source"] == "External"]
    assert made and logged
    assert {c["call_method"] for c in made} <= {"regular", "power", "predictive"}
    assert {c["disposition"] for c in made} <= {
        "answered",
        "no-answer",
        "vm-answer",
        "vm-left",
        "busy",
        "blocked",
        "error",
        "abandoned",
    }
    assert all(c["disposition"] is None and "local_phone" not in c for c in logged)
    assert any(c["duration"] is None for c in calls)  # integers that arrive null
    assert any(c["voicemail_duration"] is None for c in calls)
    assert any(c["lead_id"] is None and c["contact_id"] is None for c in calls)
    assert all(E164.match(c["phone"]) for c in calls)
    assert {c["remote_phone_formatted"][:3] for c in calls} == {"+1 "}
    stamps = [c["date_created"] for c in calls]
    assert any("." in s for s in stamps) and any("." not in s for s in stamps)
    assert all(c["lead_id"] for c in made if c["contact_id"])
    first_close_call = next(SEEDED_WORLD.iter_calls("close"))
    assert seeded.call_id_for(first_close_call.key) in {c["id"] for c in calls}


def test_seeding_uses_only_contacts_that_exist_in_close() -> None:
    world = World(calls=80, missing_share=0.3)
    emulator, _ = make_emulator(world=world)
    present = {c.key for c in world.contacts_in("close")}
    missing = [c for c in world.contact_list if c.key not in present]
    assert missing
    assert emulator.contact(emulator.contact_id_for(missing[0].key)) is None
    assert emulator.contact(emulator.contact_id_for(next(iter(present)))) is not None


def test_state_in_a_file_survives_a_restart(tmp_path: Any) -> None:
    path = str(tmp_path / "close.sqlite")
    first, _ = make_emulator(world=World(calls=30), state=StateDB(path))
    with client_for(first) as api:
        lead = first_lead(api)
        created = api.post(f"{API}/activity/call/", json=external_call_body(lead)).json()
    first.state.close()
    second, _ = make_emulator(state=StateDB(path))
    with client_for(second) as api:
        assert api.get(f"{API}/activity/call/{created['id']}/").json() == created
        again = api.post(f"{API}/activity/call/", json=external_call_body(lead)).json()
    assert again["id"] != created["id"]  # the id counter lives in the file too
    second.state.close()


def test_loopback_server_speaks_real_http(fresh: tuple[CloseEmulator, Any]) -> None:
    emulator, _ = fresh
    running = serve(emulator)
    try:
        with httpx.Client(base_url=running.base_url, auth=(emulator.DEMO_API_KEY, "")) as client:
            assert client.get(f"{API}/me/").status_code == 200
            lead = first_lead(client)
            created = client.post(f"{API}/activity/call/", json=external_call_body(lead))
            assert created.status_code == 200
            assert "ratelimit" in created.headers
            assert client.get(f"{API}/activity/call/{created.json()['id']}/").status_code == 200
    finally:
        running.stop()


def test_garbage_bodies_answer_4xx_and_never_crash(rw: httpx.Client) -> None:
    rng = random.Random(5)
    values: list[Any] = [
        None,
        1,
        1.5,
        True,
        "x",
        "",
        [],
        [1],
        {},
        {"a": 1},
        [{"phone": 1}],
        {"type": "and", "queries": [1]},
        "+14155550000",
        "2026-01-01",
    ]
    keys = [
        "lead_id",
        "contact_id",
        "user_id",
        "note",
        "duration",
        "phone",
        "status",
        "outcome_id",
        "recording_url",
        "activity_at",
        "custom_fields",
        "name",
        "contacts",
        "phones",
        "emails",
        "query",
        "_limit",
        "cursor",
        "_fields",
        "recording_transcript",
    ]
    call_id = rw.get(f"{API}/activity/call/", params={"_limit": 1}).json()["data"][0]["id"]
    targets = [
        ("POST", "/activity/call/"),
        ("PUT", f"/activity/call/{call_id}/"),
        ("POST", "/lead/"),
        ("POST", "/contact/"),
        ("POST", "/data/search/"),
    ]
    for _ in range(400):
        method, path = rng.choice(targets)
        body: Any = {key: rng.choice(values) for key in rng.sample(keys, rng.randint(0, 4))}
        if rng.random() < 0.1:
            body = rng.choice(values)
        response = rw.request(method, API + path, json=body)
        assert response.status_code in (200, 400), (method, path, body, response.text)
