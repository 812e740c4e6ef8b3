"""Calls read from Outreach name their rep (issue 9): the users a page names are looked up by
id in one request, remembered for the run, and a failed look-up never stops the read."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.base import Cursor
from connectors.emulation import FaultKind
from connectors.outreach.users import UserDirectory
from syncer.errors import AuthError, VendorError
from syncer.pull import pull
from syncer.store import repo
from tests.connectors.outreach.harness import NAME, make_harness

USERS = "GET /api/v2/users"


def stored_calls(engine):
    with engine.connect() as conn:
        uids = conn.execute(
            sa.text("SELECT call_uid FROM calls WHERE origin_connection = :n"), {"n": NAME}
        ).scalars()
        return [repo.load_call(conn, uid) for uid in uids]


def test_the_reps_of_a_pull_cost_one_request_per_page_that_names_new_ones(engine):
    harness = make_harness(settings={"page_size": 20})
    harness.seed(200)
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    calls = stored_calls(engine)
    assert len(calls) == 200
    emails = {user.email for user in harness.world.user_list}
    assert all(call.user is not None and call.user.email in emails for call in calls)
    assert all(call.user.name for call in calls)
    pages = harness.emulator.stats.by_route["GET /api/v2/calls"]
    asked = harness.emulator.stats.by_route[USERS]
    assert 1 <= asked <= min(pages, len(emails))  # never one per call


def test_a_failed_look_up_stores_the_calls_without_email_and_a_later_run_asks_again(engine):
    harness = make_harness()
    harness.seed(30)
    harness.settle()
    harness.faults.script(FaultKind.SERVER_ERROR, method="GET", path="^/api/v2/users$", status=500)
    first = pull(engine, harness.connector(engine))
    assert first.ok  # the read went on
    assert len(stored_calls(engine)) == 30
    assert all(call.user is not None and call.user.email is None for call in stored_calls(engine))
    assert harness.emulator.stats.by_route[USERS] == 1  # not asked again in that run
    harness.add_call()
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert harness.emulator.stats.by_route[USERS] >= 2
    # The 30 calls stored without their rep were re-mapped from their stored payloads.
    assert all(call.user and call.user.email for call in stored_calls(engine))


def test_a_stored_payload_maps_again_with_its_rep_without_asking(engine):
    harness = make_harness()
    harness.seed(5)
    harness.settle()
    connector = harness.connector(engine)
    [page] = list(connector.read("calls", Cursor()))
    raw = connector.to_call(page.records[0]).raw
    offline = harness.connector(engine)
    offline.users = UserDirectory(lambda params: iter(()))  # Outreach answers nothing
    again = offline.to_call(raw)
    assert again.user is not None and again.user.email is not None


def record(user: int) -> dict:
    return {"type": "call", "id": user, "relationships": {"user": {"data": {"id": user}}}}


def user(ident: int) -> dict:
    return {"type": "user", "id": ident, "attributes": {"email": f"u{ident}@x.test"}}


def test_ids_are_asked_for_together_and_unknown_ones_only_once():
    asked: list[list[tuple[str, str]]] = []

    def fetch(params):
        asked.append(list(params))
        return iter([user(1), user(2)])

    users = UserDirectory(fetch)
    users.prepare([record(2), record(1), record(3), record(2)])
    users.prepare([record(3), record(1)])
    assert [dict(q)["filter[id]"] for q in asked] == ["1,2,3"]
    assert users.user("1") == user(1) and users.user("3") is None


def test_a_refused_id_filter_reads_the_directory_once():
    asked: list[dict[str, str]] = []

    def fetch(params):
        asked.append(dict(params))
        if "filter[id]" in asked[-1]:
            raise VendorError("outreach", 422, "Filtering by 'id' is not supported.")
        return iter([user(1), user(5)])

    users = UserDirectory(fetch)
    users.prepare([record(1)])
    users.prepare([record(5), record(9)])
    assert len(asked) == 2 and "filter[id]" not in asked[1]
    assert users.user("5") == user(5) and users.user("9") is None


def test_a_missing_users_scope_degrades_for_the_run():
    calls = 0

    def fetch(params):
        nonlocal calls
        calls += 1
        raise AuthError("outreach", 403, "the required scope 'users.read'")

    users = UserDirectory(fetch)
    users.prepare([record(1)])
    users.prepare([record(2)])
    assert calls == 1 and users.user("1") is None
