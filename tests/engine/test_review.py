"""The review queue (``syncer/review_queue.py``, ``syncer/review_resolve.py``): each kind is listed with its evidence, settled by
each of its options with who and when recorded, and the next push honours the decision."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import ConnectorContext, Parked, Resolved, WriteOptions, Written
from syncer import mapping, review_queue, review_resolve
from syncer.connections import DatabaseConnectorState
from syncer.model import Call, Outcome, SourceIdentity
from syncer.store import leases, ledger
from syncer.store import review as store_review
from syncer.store.twins import DuplicatePair, Tolerances
from syncer.store.upsert import insert_for
from tests.engine.test_push import MemoryTarget, link, make_call, push, store

KINDS = {"dst": "close"}  # the config's connection kinds: Close takes a chosen person
TOL = Tolerances()
CANDIDATES = ("p1", "p2")


class MainLineTarget(MemoryTarget):
    """Two people share every number; only a call naming one of them (``contact.ids``) is
    decided, as the Close and Pipedrive connectors do."""

    takes_chosen_person = True

    def __init__(self, context) -> None:
        super().__init__(context, can_update=True)
        self.written_for: dict[str, object] = {}
        self.updated: list[str] = []

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        named = call.contact.ids.get(self.kind) if call.contact else None
        if named in CANDIDATES:
            return Resolved({"person": named})
        return Parked("2 people have the number", candidates=CANDIDATES)

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        written = super().create(call, marker, resolved)
        self.written_for[written.remote_id] = resolved.links["person"]
        return written

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        self.updated.append(remote_id)


class OpenTarget(MainLineTarget):
    """Resolves everyone (for twins and in-doubt writes)."""

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        return Resolved({"person": "p1"})


@pytest.fixture
def context(engine) -> ConnectorContext:
    return ConnectorContext(
        name="dst",
        settings=None,  # type: ignore[arg-type]
        table=mapping.load_tables()["close"],
        phone_region="US",
        state=DatabaseConnectorState(engine, "dst"),
    )


@pytest.fixture
def main_line(context) -> MainLineTarget:
    return MainLineTarget(context)


@pytest.fixture
def open_target(context) -> OpenTarget:
    return OpenTarget(context)


def listed(engine, kinds=KINDS, **filters) -> dict[str, review_queue.Item]:
    return {item.id: item for item in review_queue.items(engine, kinds, TOL, **filters)}


def settle(engine, item_id: str, option: str, **extra) -> str:
    return review_resolve.resolve(engine, item_id, option, kinds=KINDS, tolerances=TOL, **extra)


def assert_recorded_by_a_person(evidence: dict, decision: str) -> None:
    assert evidence["decision"] == decision
    assert "@" in evidence["settled_by"] and evidence["settled_by"].endswith(" UTC")


# --- ambiguous identities -----------------------------------------------------------------------


def parked_call(engine, target) -> Call:
    call = make_call(1)
    store(engine, call)
    assert push(engine, target).parked == 1
    return call


def test_an_ambiguous_identity_is_listed_with_its_candidates(engine, main_line):
    call = parked_call(engine, main_line)
    item = listed(engine)[f"w:dst:{call.call_uid}"]
    assert (item.kind, item.call_uid, item.connection) == (
        review_queue.AMBIGUOUS,
        call.call_uid,
        "dst",
    )
    assert item.options == ("p1", "p2", "retry", "skip")
    assert item.evidence["candidates"] == ["p1", "p2"]
    assert item.evidence["call"]["to"] == "+14155550100"
    assert "2 people have the number" in item.why


def test_a_chosen_candidate_is_written_onto_by_the_next_push(engine, main_line):
    call = parked_call(engine, main_line)
    assert "chose p2" in settle(engine, f"w:dst:{call.call_uid}", "p2")
    row = link(engine, call)
    assert_recorded_by_a_person(row.evidence, "p2")
    assert row.evidence["chosen"] == "p2" and "p2 chosen by" in row.reason
    assert f"w:dst:{call.call_uid}" not in listed(engine)
    assert push(engine, main_line).created == 1
    assert main_line.written_for == {"r1": "p2"}
    # the choice holds for later edits of the call too (an update resolves again)
    store(engine, make_call(1, duration_seconds=99))
    stats = push(engine, main_line)
    assert (stats.updated, stats.parked, main_line.updated) == (1, 0, ["r1"])


def test_a_target_that_cannot_take_a_choice_offers_retry_and_skip_only(engine, main_line):
    call = parked_call(engine, main_line)
    item_id = f"w:dst:{call.call_uid}"
    kinds = {"dst": "outreach"}
    assert listed(engine, kinds)[item_id].options == ("retry", "skip")
    with pytest.raises(review_queue.ReviewError, match=re.escape("takes retry | skip")):
        review_resolve.resolve(engine, item_id, "p1", kinds=kinds, tolerances=TOL)
    assert review_queue.takes_choice("close") and review_queue.takes_choice("pipedrive")
    assert not review_queue.takes_choice("outreach") and not review_queue.takes_choice(
        "amplemarket"
    )


def test_skip_and_retry_of_an_ambiguous_identity(engine, main_line):
    call = parked_call(engine, main_line)
    item_id = f"w:dst:{call.call_uid}"
    with engine.begin() as conn:  # backing off
        conn.execute(
            ledger.links_t.update().values(next_attempt_at=datetime.now(UTC) + timedelta(hours=1))
        )
    assert push(engine, main_line).parked == 0
    assert "resolves the call again" in settle(engine, item_id, "retry")
    row = link(engine, call)
    assert row.next_attempt_at is None
    assert_recorded_by_a_person(row.evidence, "retry")
    assert push(engine, main_line).parked == 1  # tried at once
    assert settle(engine, item_id, "skip") == "skipped"
    assert link(engine, call).state == "skipped"
    assert item_id not in listed(engine)
    stats = push(engine, main_line)
    assert (stats.parked, stats.created, main_line.creates) == (0, 0, 0)


# --- in-doubt writes ---------------------------------------------------------------------------


def needs_review(engine, call: Call) -> None:
    store(engine, call)
    with engine.begin() as conn:
        fence = leases.take(conn, "push:dst", "worker", timedelta(minutes=1))
        ledger.claim(conn, fence, call.call_uid, "dst", call.call_uid, call.content_hash())
        ledger.settle(
            conn,
            fence,
            call.call_uid,
            "dst",
            ledger.NEEDS_REVIEW,
            "logged for another user",
            evidence={"activity": 77},
        )
        leases.release(conn, fence)


def test_an_in_doubt_write_is_listed_and_recreated_by_the_next_push(engine, open_target):
    call = make_call(1)
    needs_review(engine, call)
    item = listed(engine, kind=review_queue.IN_DOUBT)[f"w:dst:{call.call_uid}"]
    assert item.options == ("adopt", "recreate", "skip")
    assert item.evidence["activity"] == 77 and item.why == "logged for another user"
    assert push(engine, open_target).created == 0  # waits for a person
    settle(engine, item.id, "recreate")
    assert_recorded_by_a_person(link(engine, call).evidence, "recreate")
    assert push(engine, open_target).created == 1


def test_an_in_doubt_write_is_adopted_or_skipped(engine, open_target):
    adopted, skipped = make_call(1), make_call(2)
    needs_review(engine, adopted)
    needs_review(engine, skipped)
    with pytest.raises(review_queue.ReviewError, match="remote record's id"):
        settle(engine, f"w:dst:{adopted.call_uid}", "adopt")
    assert settle(engine, f"w:dst:{adopted.call_uid}", "adopt", remote_id="acti_5") == (
        "adopted acti_5"
    )
    settle(engine, f"w:dst:{skipped.call_uid}", "skip")
    assert (link(engine, adopted).state, link(engine, adopted).remote_id) == ("done", "acti_5")
    assert link(engine, skipped).state == "skipped"
    assert_recorded_by_a_person(link(engine, skipped).evidence, "skip")
    assert listed(engine) == {}
    assert push(engine, open_target).created == 0


# --- twins that disagree -----------------------------------------------------------------------


def linked_twin(engine, target) -> tuple[Call, Call]:
    call = make_call(1)
    twin = make_call(
        1,
        source=SourceIdentity(system="close", connection="dst", external_id="acti_9"),
        started_at=call.started_at + timedelta(seconds=12),
    )
    store(engine, call, twin)
    assert push(engine, target).matched == 1
    assert listed(engine) == {}  # within the tolerances: nothing to review
    store(engine, make_call(1, outcome=Outcome.NO_ANSWER))  # the source is edited
    return call, twin


def test_a_twin_that_disagrees_is_listed_with_both_sides(engine, open_target):
    call, twin = linked_twin(engine, open_target)
    item = listed(engine, kind=review_queue.TWIN_DISAGREES)[f"t:dst:{call.call_uid}"]
    assert item.options == ("keep", "update-twin", "unlink")
    assert "outcome no_answer in the source, connected in the twin" in item.why
    assert item.evidence["twin"]["record"] == "acti_9"
    assert item.evidence["source"]["outcome"] == "no_answer"
    assert item.evidence["twin_call"] == twin.call_uid


def test_keep_leaves_both_until_the_source_changes_again(engine, open_target):
    call, _ = linked_twin(engine, open_target)
    item_id = f"t:dst:{call.call_uid}"
    assert settle(engine, item_id, "keep").startswith("kept")
    with engine.connect() as conn:
        [row] = conn.execute(store_review.review_t.select()).all()
    assert row.resolution.startswith("keep by ") and row.resolved_at is not None
    assert listed(engine) == {}
    stats = push(engine, open_target)
    assert (stats.updated, stats.created, open_target.updated) == (0, 0, [])
    store(engine, make_call(1, outcome=Outcome.NO_ANSWER, duration_seconds=300))
    assert item_id in listed(engine)  # a new disagreement asks again


def test_update_twin_writes_the_source_onto_the_twin_once(engine, open_target):
    call, _ = linked_twin(engine, open_target)
    settle(engine, f"t:dst:{call.call_uid}", "update-twin")
    assert push(engine, open_target).updated == 1
    assert open_target.updated == ["acti_9"]
    row = link(engine, call)
    assert (row.state, row.kind, row.remote_id) == ("done", "matched", "acti_9")
    store(engine, make_call(1, outcome=Outcome.BUSY))  # later edits: never written by itself
    assert push(engine, open_target).updated == 0


def test_unlink_makes_the_next_push_create_the_call(engine, open_target):
    call, _ = linked_twin(engine, open_target)
    settle(engine, f"t:dst:{call.call_uid}", "unlink")
    stats = push(engine, open_target)
    assert (stats.created, stats.matched) == (1, 0)  # not paired with the same twin again
    row = link(engine, call)
    assert (row.state, row.kind, row.remote_id) == ("done", "written", "r1")
    assert listed(engine) == {}


# --- recorded items: guard trips, duplicate pairs ------------------------------------------------


def record_guard_trip(engine, subject: str) -> int:
    with engine.begin() as conn:
        stmt = insert_for(conn, store_review.review_t).values(
            kind=review_queue.GUARD_TRIP,
            connection="dst",
            subject=subject,
            other="",
            detail={"why": "would delete 40 of 100 calls written", "share": 0.4},
            created_at=datetime.now(UTC),
        )
        return int(conn.execute(stmt.returning(store_review.review_t.c.id)).scalar_one())


@pytest.mark.parametrize("option", ["accept", "dismiss"])
def test_a_guard_trip_is_accepted_or_dismissed(engine, option):
    item_id = f"r:{record_guard_trip(engine, 'src -> dst')}"
    item = listed(engine, kind=review_queue.GUARD_TRIP)[item_id]
    assert (item.why, item.evidence["share"], item.options) == (
        "would delete 40 of 100 calls written",
        0.4,
        ("accept", "dismiss"),
    )
    assert settle(engine, item_id, option).startswith(f"{option}, recorded by ")
    with engine.connect() as conn:
        row = conn.execute(store_review.review_t.select()).one()
    assert review_resolve.decision_of(row) == option and row.resolution.startswith(f"{option} by ")
    assert_recorded_by_a_person(row.detail, option)
    assert listed(engine) == {}


@pytest.mark.parametrize("option", ["keep-both", "merged"])
def test_a_duplicate_pair_is_settled(engine, option):
    copied, logged = make_call(1), make_call(2)
    store(engine, copied, logged)
    with engine.begin() as conn:
        store_review.record_duplicates(
            conn, [DuplicatePair("dst", logged.call_uid, "acti_9", copied.call_uid, "r1")]
        )
    [item] = listed(engine).values()
    assert (item.kind, item.call_uid, item.evidence["logged_remote"]) == (
        "duplicate_pair",
        logged.call_uid,
        "acti_9",
    )
    settle(engine, item.id, option)
    with engine.connect() as conn:
        row = conn.execute(store_review.review_t.select()).one()
    assert review_resolve.decision_of(row) == option and row.resolved_at is not None
    assert listed(engine) == {}
    with pytest.raises(review_queue.ReviewError, match="no item"):
        settle(engine, item.id, option)  # settled once


def test_unknown_ids_and_options_are_refused(engine, main_line):
    call = parked_call(engine, main_line)
    trip = f"r:{record_guard_trip(engine, 'x')}"
    for item_id in (
        "w:dst:nope",
        f"w:other:{call.call_uid}",
        f"t:dst:{call.call_uid}",
        "r:999",
        "nonsense",
        "r:",
    ):
        with pytest.raises(review_queue.ReviewError, match="no item"):
            settle(engine, item_id, "skip")
    with pytest.raises(review_queue.ReviewError, match=re.escape("takes accept | dismiss")):
        settle(engine, trip, "merged")
    with pytest.raises(review_queue.ReviewError, match="not 'p3'"):
        settle(engine, f"w:dst:{call.call_uid}", "p3")
    assert review_queue.counts(engine, TOL) == {
        review_queue.AMBIGUOUS: 1,
        review_queue.GUARD_TRIP: 1,
    }
