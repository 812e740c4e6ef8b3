"""The Close event log (§1.8): filters, shapes, ordering, cursors, late and merged events."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from connectors.close.emulator import CloseEmulator
from connectors.emulation import ManualClock, World

from .test_close_helpers import API, client_for, external_call_body, first_lead, make_emulator

NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")  # no offset, as in the doc example


@pytest.fixture
def setup() -> Any:
    """A small org with no lateness jitter, so visibility times are exact."""
    emulator, clock = make_emulator(
        world=World(calls=20), event_delay_seconds=2, event_jitter_seconds=0
    )
    with client_for(emulator) as api:
        yield emulator, clock, api


def events(api: httpx.Client, **params: Any) -> dict[str, Any]:
    response = api.get(f"{API}/event/", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def walk(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every event for ``params``, following ``cursor_next`` until it is null."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = events(api, **params, **({"_cursor": cursor} if cursor else {}))
        found.extend(page["data"])
        cursor = page["cursor_next"]
        if cursor is None:
            return found


def new_call(api: httpx.Client) -> dict[str, Any]:
    response = api.post(f"{API}/activity/call/", json=external_call_body(first_lead(api)))
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(
    ("params", "allowed"),
    [
        ({"object_type": "activity.call"}, False),  # object_type alone is not a combination
        ({"action": "deleted"}, False),
        ({"object_type": "activity.call", "lead_id": "lead_x", "object_id": "acti_x"}, False),
        ({"object_type": "activity.call", "action": "updated"}, True),
        ({"object_type": "activity.call", "object_id": "acti_x"}, True),
        ({"lead_id": "lead_x", "object_type": "activity.call", "action": "created"}, True),
        ({"user_id": "user_x", "object_type": "activity.call"}, True),
        ({"request_id": "req_x"}, True),
        ({"lead_id": "lead_x"}, True),
        ({}, True),
        ({"date_updated__gte": "2026-01-01T00:00:00Z"}, True),
        ({"object_type": "activity.call", "date_updated__gte": "2026-01-01"}, False),
    ],
)
def test_only_documented_filter_combinations_are_allowed(
    setup: Any, params: dict[str, str], allowed: bool
) -> None:
    _, _, api = setup
    response = api.get(f"{API}/event/", params=params)
    assert response.status_code == (200 if allowed else 400)
    if not allowed:
        assert set(response.json()) == {"error"}


def test_skip_is_not_supported_on_the_event_log(setup: Any) -> None:
    _, _, api = setup
    response = api.get(f"{API}/event/", params={"_skip": 50})
    assert response.status_code == 400


def test_create_update_delete_produce_documented_event_shapes(setup: Any) -> None:
    _, clock, api = setup
    call = new_call(api)
    clock.advance(60)
    url = f"{API}/activity/call/{call['id']}/"
    api.put(url, json={"note": "second thoughts"})
    clock.advance(60)
    assert api.delete(url).status_code == 200
    clock.advance(10)
    found = events(api, object_type="activity.call", object_id=call["id"])
    assert set(found) == {"data", "cursor_next", "cursor_previous"}
    deleted, updated, created = found["data"]  # newest first
    assert [created["action"], updated["action"], deleted["action"]] == [
        "created",
        "updated",
        "deleted",
    ]
    assert created["data"]["id"] == call["id"] and created["previous_data"] is None
    assert {"note", "note_html", "date_updated"} <= set(updated["changed_fields"])
    assert updated["previous_data"]["note"] == call["note"]
    assert updated["data"]["note"] == "second thoughts"
    assert deleted["data"] is None and deleted["previous_data"]["id"] == call["id"]
    for event in (created, updated, deleted):
        assert event["object_type"] == "activity.call" and event["lead_id"] == call["lead_id"]
        assert event["api_key_id"] and event["request_id"].startswith("req_")
        assert event["user_id"] == CloseEmulator.INTEGRATION_USER_ID
        assert NAIVE.match(event["date_created"]) and NAIVE.match(event["date_updated"])
        assert event["meta"]["request_path"].startswith("/api/v1/activity/call/")
    assert deleted["meta"]["request_method"] == "DELETE"


def test_events_become_visible_only_after_the_delay(setup: Any) -> None:
    _, clock, api = setup
    call = new_call(api)
    query = {"object_type": "activity.call", "object_id": call["id"]}
    assert events(api, **query)["data"] == []
    clock.advance(1.9)
    assert events(api, **query)["data"] == []
    clock.advance(0.2)
    assert [e["action"] for e in events(api, **query)["data"]] == ["created"]


def test_jitter_makes_events_visible_out_of_order() -> None:
    emulator, clock = make_emulator(
        world=World(calls=20), event_delay_seconds=1, event_jitter_seconds=30
    )
    with client_for(emulator) as api:
        made = []
        for _ in range(12):
            made.append(new_call(api)["id"])
            clock.advance(1)
        orders_seen = []
        for _ in range(35):
            page = events(api, object_type="activity.call", action="created")["data"]
            visible = [e["object_id"] for e in page if e["object_id"] in made]
            orders_seen.append(visible)
            clock.advance(1)
    # At some moment a newer event is visible while an older one is not yet.
    assert any(seen and made.index(seen[0]) + 1 != len(seen) for seen in orders_seen), (
        "expected a gap: a newer event visible before an older one"
    )
    assert set(orders_seen[-1]) == set(made)


def test_quick_edits_merge_into_one_event(setup: Any) -> None:
    emulator, clock, api = setup
    call = new_call(api)
    clock.advance(30)
    emulator.edit_call(call["id"], note="H")
    first = events_now(api, clock, call["id"])  # 3 s later
    emulator.edit_call(call["id"], note="Hi")
    clock.advance(2)
    emulator.edit_call(call["id"], outcome_id=emulator.outcome_id("Call back later"))
    merged = events_now(api, clock, call["id"])
    updates = [e for e in merged if e["action"] == "updated"]
    assert len(updates) == 1
    update = updates[0]
    assert update["id"] == first[0]["id"]
    assert update["date_created"] == first[0]["date_created"]
    assert update["date_updated"] > update["date_created"]
    assert {"note", "outcome_id"} <= set(update["changed_fields"])
    assert update["previous_data"]["note"] == call["note"]  # from before the burst
    assert update["data"]["note"] == "Hi"
    assert update["api_key_id"] is None  # made in Close's UI, not through an API key
    clock.advance(60)
    emulator.edit_call(call["id"], note="Hello")
    later = events_now(api, clock, call["id"])
    assert [e["action"] for e in later].count("updated") == 2


def events_now(api: httpx.Client, clock: ManualClock, call_id: str) -> list[dict[str, Any]]:
    """The call's events once the latest is visible (3 s: the delay is 2 s, no jitter)."""
    clock.advance(3)
    return list(events(api, object_type="activity.call", object_id=call_id)["data"])


def test_a_merged_event_moves_and_hides_until_late_enough(setup: Any) -> None:
    emulator, clock, api = setup
    call = new_call(api)
    clock.advance(30)
    emulator.edit_call(call["id"], note="a")
    clock.advance(5)
    query = {"object_type": "activity.call", "action": "updated"}
    assert [e["object_id"] for e in events(api, **query)["data"]] == [call["id"]]
    emulator.edit_call(call["id"], note="ab")  # within the merge window
    assert events(api, **query)["data"] == []  # its new date_updated is too recent
    clock.advance(3)
    assert len(events(api, **query)["data"]) == 1


def test_newest_first_limit_capped_at_50_and_cursors_walk_everything(setup: Any) -> None:
    _, clock, api = setup
    lead = first_lead(api)
    for _ in range(120):
        api.post(f"{API}/activity/call/", json=external_call_body(lead))
        clock.advance(0.5)
    clock.advance(10)
    query = {"object_type": "activity.call", "action": "created"}
    page = events(api, **query, _limit=100)
    assert len(page["data"]) == 50 and page["cursor_previous"] is None
    everything = walk(api, **query)
    ids = [e["id"] for e in everything]
    assert len(ids) == len(set(ids)) >= 120
    stamps = [e["date_updated"] for e in everything]
    assert stamps == sorted(stamps, reverse=True)
    second = events(api, **query, _cursor=page["cursor_next"])
    back = events(api, **query, _cursor=second["cursor_previous"])
    assert [e["id"] for e in back["data"]] == [e["id"] for e in page["data"]]


def test_cursor_requires_the_same_filters(setup: Any) -> None:
    _, clock, api = setup
    lead = first_lead(api)
    for _ in range(60):
        api.post(f"{API}/activity/call/", json=external_call_body(lead))
    clock.advance(10)
    page = events(api, object_type="activity.call", action="created")
    assert page["cursor_next"]
    other = api.get(
        f"{API}/event/",
        params={
            "object_type": "activity.call",
            "action": "deleted",
            "_cursor": page["cursor_next"],
        },
    )
    assert other.status_code == 400
    garbage = api.get(f"{API}/event/", params={"_cursor": "not-a-cursor"})
    assert garbage.status_code == 400


def test_date_updated_filter_bounds_the_log(setup: Any) -> None:
    _, clock, api = setup
    before = new_call(api)
    clock.advance(120)
    cut = clock.now()
    after = new_call(api)
    clock.advance(10)
    query = {"object_type": "activity.call", "action": "created"}
    recent = walk(api, **query, date_updated__gte=cut.isoformat())
    assert [e["object_id"] for e in recent] == [after["id"]]
    older = {e["object_id"] for e in walk(api, **query, date_updated__lt=cut.isoformat())}
    assert before["id"] in older and after["id"] not in older


def test_thirty_days_are_kept(setup: Any) -> None:
    _, clock, api = setup
    call = new_call(api)
    query = {"object_type": "activity.call", "object_id": call["id"]}
    clock.advance(29 * 86_400)
    assert len(events(api, **query)["data"]) == 1
    clock.advance(2 * 86_400)
    assert events(api, **query)["data"] == []


def test_data_is_hidden_from_non_admins_after_one_hour(setup: Any) -> None:
    emulator, clock, api = setup
    call = new_call(api)
    query = {"object_type": "activity.call", "object_id": call["id"]}
    clock.advance(3599)
    assert "data" in events(api, **query)["data"][0]
    clock.advance(2)
    stale = events(api, **query)["data"][0]
    assert "data" not in stale and "previous_data" not in stale
    emulator.add_api_key("api_admin_for_events", admin=True)
    with client_for(emulator, "api_admin_for_events") as admin:
        assert events(admin, **query)["data"][0]["data"]["id"] == call["id"]


def test_seeded_calls_have_created_events_in_the_retention(setup: Any) -> None:
    emulator, _, api = setup
    seeded = emulator.last_seed
    assert seeded is not None and seeded.events == seeded.calls > 0
    created = walk(api, object_type="activity.call", action="created")
    assert len(created) == seeded.calls
    assert all(e["api_key_id"] is None for e in created)


def test_deleting_in_the_ui_is_logged_for_the_acting_user(setup: Any) -> None:
    emulator, clock, api = setup
    call = new_call(api)
    user = emulator.user_id_for("u1")
    emulator.delete_call(call["id"], user_id=user)
    clock.advance(10)
    deleted = events(api, object_type="activity.call", action="deleted")["data"]
    assert [(e["object_id"], e["user_id"]) for e in deleted] == [(call["id"], user)]
    assert deleted[0]["previous_data"]["id"] == call["id"]


def test_a_seeded_created_event_keeps_the_call_as_it_was_created(setup: Any) -> None:
    emulator, clock, _ = setup
    emulator.add_api_key("api_admin_seeded", admin=True)
    with client_for(emulator, "api_admin_seeded") as admin:
        created = walk(admin, object_type="activity.call", action="created")
        seeded = next(e for e in created if e["api_key_id"] is None)
        call_id = seeded["object_id"]
        original = admin.get(f"{API}/activity/call/{call_id}/").json()
        assert seeded["data"] == original
        emulator.edit_call(call_id, note="changed later")
        emulator.delete_call(call_id)
        clock.advance(10)
        again = events(admin, object_type="activity.call", object_id=call_id)["data"]
    assert [e["action"] for e in again] == ["deleted", "updated", "created"]
    assert again[2]["data"] == original
    assert again[0]["previous_data"]["note"] == "changed later"
