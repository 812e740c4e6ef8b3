"""Every rep's calls, not only the token user's (issue 9): other users' calls are read from
their call activities, at the next poll, with rep and direction, each exactly once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from connectors.base import COVERAGE_STATE_KEY
from connectors.pipedrive.activity_calls import direction_of, record_key_of
from connectors.pipedrive.connector import PipedriveConnector
from connectors.pipedrive.others import ACTIVITY_ONLY, NOT_ADMIN, OFF
from syncer import status
from syncer.config import load_config
from syncer.model import Direction
from syncer.pull import pull
from syncer.store import repo
from tests.connectors.pipedrive.harness import NAME, PipedriveHarness, make_harness
from tests.connectors.pipedrive.pulls import ACTIVITIES, pulled, requests, seeded

USERS = "GET /v1/users"
EXAMPLE = Path(__file__).parents[3] / "config.example.yaml"


def stored_calls(engine: sa.Engine) -> Counter[tuple[str | None, str | None]]:
    """(rep email, direction) of every live canonical call of the connection."""
    query = sa.select(repo.sources_t.c.external_id).where(
        repo.sources_t.c.connection == NAME, repo.sources_t.c.deleted_at.is_(None)
    )
    with engine.connect() as conn:
        ids = [row.external_id for row in conn.execute(query)]
        uids = {
            row.call_uid
            for row in conn.execute(
                sa.select(repo.sources_t.c.call_uid).where(repo.sources_t.c.connection == NAME)
            )
        }
        calls = [repo.load_call(conn, uid) for uid in uids]
    assert len(ids) == len({c.call_uid for c in calls if c and c.deleted_at is None})
    return Counter(
        (c.user.email if c.user else None, c.direction.value if c.direction else None)
        for c in calls
        if c is not None and c.deleted_at is None
    )


def seeded_calls(harness: PipedriveHarness) -> Counter[tuple[str | None, str | None]]:
    assert harness.world is not None
    return Counter((c.user.email, c.direction) for c in harness.world.iter_calls("pipedrive"))


def call_activities_of(harness: PipedriveHarness, owner: int) -> set[int]:
    return {
        int(s.doc["id"])
        for s in harness.emulator.store.activities.scan(owner=owner)
        if s.doc["type"] == "call"
    }


def test_one_pull_reads_every_reps_call_with_rep_and_direction(engine):
    harness = seeded(engine, 300, users=3)

    expected = seeded_calls(harness)
    assert len({email for email, _ in expected}) == 3  # several reps, not only the token's
    assert stored_calls(engine) == expected  # every seeded call, once, rep and direction
    others = {u for u in harness.emulator.user_ids() if u != harness.user_id}
    from_activities = {record_key_of(a) for u in others for a in call_activities_of(harness, u)}
    assert harness.stored_ids(engine) == harness.vendor_ids() | from_activities


def test_the_sweep_keeps_other_users_calls_and_counts_each_once(engine):
    harness = seeded(engine, 300, users=3)
    before = harness.stored_ids(engine)
    harness.clock.advance(timedelta(days=1, minutes=1).total_seconds())  # a sweep is due

    result = pulled(harness, engine)

    assert result.ok, result.error
    assert result.streams["calls"].deleted == 0  # the walk saw every other user's call
    assert harness.stored_ids(engine) == before
    assert stored_calls(engine) == seeded_calls(harness)


def test_another_users_new_edited_and_deleted_call_is_followed_at_the_next_poll(engine):
    harness = seeded(engine, 120, users=3)
    other = next(u for u in harness.emulator.user_ids() if u != harness.user_id)
    log_id = harness.add_call(user_id=other, subject="Inbound call from Pat")
    activity_id = harness.activity_of(log_id)
    key = record_key_of(activity_id)
    harness.settle()

    assert pulled(harness, engine).ok
    assert requests(harness) == {ACTIVITIES: 1, USERS: 1}  # no call-log request
    call = harness.stored_call(engine, key)
    assert call.direction is Direction.INBOUND
    assert call.user is not None and call.user.ids == {"pipedrive": str(other)}
    assert call.user.email == harness.emulator.store.user(other)["email"]
    assert call.duration_seconds == 80

    harness.emulator.edit_activity(activity_id, note="<p>Called back</p>")
    harness.settle()
    assert pulled(harness, engine).ok
    assert harness.stored_call(engine, key).note == "Called back"

    harness.emulator.delete_activity(activity_id)
    harness.settle()
    assert pulled(harness, engine).ok
    assert key not in harness.stored_ids(engine)  # tombstoned
    assert log_id not in harness.stored_ids(engine, live=False)  # never read as a log


def test_a_call_moved_to_another_user_is_stored_once(engine):
    harness = seeded(engine, 120, users=3)
    log_id = sorted(harness.vendor_ids())[0]
    activity_id = harness.activity_of(log_id)
    other = next(u for u in harness.emulator.user_ids() if u != harness.user_id)
    harness.emulator.edit_activity(activity_id, owner_id=other)
    harness.settle()

    assert pulled(harness, engine).ok
    live = harness.stored_ids(engine)
    assert len({log_id, record_key_of(activity_id)} & live) == 1
    assert stored_calls(engine).total() == sum(seeded_calls(harness).values())


def test_other_users_false_reads_only_the_token_users_logs_and_says_so(engine):
    harness = seeded(engine, 120, users=3, settings={"other_users": False})

    assert harness.stored_ids(engine) == harness.vendor_ids()
    assert not any(route == USERS for route in requests(harness))
    with engine.connect() as conn:
        state = repo.get_state(conn, NAME, [COVERAGE_STATE_KEY])
    assert OFF in state[COVERAGE_STATE_KEY]["not_covered"]


def test_a_non_admin_token_reads_what_it_may_see_and_says_what_it_may_not(engine):
    harness = make_harness(users=3)
    harness.seed(120)
    harness.settle()
    rep = harness.emulator.user_ids()[1]
    token = SecretStr(harness.emulator.api_token_for(rep))
    settings = harness.connection_settings().model_copy(update={"api_token": token})
    connector = PipedriveConnector(replace(harness.context(engine), settings=settings))
    try:
        assert pull(engine, connector).ok
    finally:
        connector.close()

    assert harness.stored_ids(engine) == harness.vendor_ids(rep)  # its own logs, no one else's
    with engine.connect() as conn:
        state = repo.get_state(conn, NAME, [COVERAGE_STATE_KEY])
    assert NOT_ADMIN in state[COVERAGE_STATE_KEY]["not_covered"]


@pytest.mark.parametrize(
    ("subject", "direction"),
    [
        ("Outbound call to Jane Doe", Direction.OUTBOUND),
        ("Inbound call from Jane Doe", Direction.INBOUND),
        ("Incoming call", Direction.INBOUND),
        ("Outgoing call", Direction.OUTBOUND),
        ("Call with Jane Doe", None),
        ("Call", None),
        (None, None),
    ],
)
def test_direction_comes_from_the_subject_only_when_it_says_so(subject, direction):
    assert direction_of(subject) is direction


def test_status_shows_what_a_pipedrive_connection_does_not_cover(engine):
    harness = seeded(engine, 40, users=2)
    with engine.connect() as conn:
        gaps = repo.get_state(conn, NAME, [COVERAGE_STATE_KEY])[COVERAGE_STATE_KEY]
    with engine.begin() as conn:  # as the example config's connection had pulled it
        repo.put_state(conn, "pipedrive", {COVERAGE_STATE_KEY: gaps})
    config = load_config(EXAMPLE, env={})

    report = status.collect(engine, config)

    shown = {c["name"]: c["not_covered"] for c in report["connections"]}
    assert shown["pipedrive"] == gaps["not_covered"]
    assert ACTIVITY_ONLY in shown["pipedrive"]
    assert shown["close"] == []  # nothing reported: nothing claimed
    table = status.coverage_table(report)
    assert table is not None and table.row_count == sum(len(lines) for lines in shown.values())
    assert harness.emulator.user_ids()
