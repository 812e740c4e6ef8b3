"""The pure planner: one row per action and reason, and the properties every plan keeps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer import conflicts, planner
from syncer.conflicts import Edits, Policy
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity
from syncer.planner import Decision, Facts, Filters, Missing, Route, Row, Target, Twin

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
WRITTEN_AT = NOW - timedelta(hours=2)


def call(**fields: Any) -> Call:
    updated = fields.pop("updated", WRITTEN_AT)
    base: dict[str, Any] = {
        "source": SourceIdentity(
            system="outreach", connection="src", external_id="1", source_updated_at=updated
        ),
        "started_at": NOW - timedelta(days=1),
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "to_number": PhoneNumber.parse("+14155550100"),
        "duration_seconds": 60,
        "user": Party(email="Ana@acme.test"),
        "note": "first",
    }
    return Call(**{**base, **fields})


ORIGINAL = call()


def done(written: Call = ORIGINAL, **row: Any) -> Row:
    """The ledger row of ``written`` copied into the target as r1."""
    values = conflicts.values(written)
    base: dict[str, Any] = {
        "state": planner.DONE,
        "remote_id": "r1",
        "written_hash": written.content_hash(),
        "basis": conflicts.digests(values),
        "held": values,
    }
    return Row(**{**base, **row})


CAN_UPDATE = Target("dst", "close", update=True, delete=True)
NO_UPDATE = Target("dst", "outreach", update=False, delete=True)


def facts(the_call: Call = ORIGINAL, **given: Any) -> Facts:
    base: dict[str, Any] = {"route": Route("src"), "target": CAN_UPDATE, "now": NOW}
    return Facts(call=the_call, **{**base, **given})


def edited(note: str, at: datetime) -> Edits:
    return Edits({"note": note}, at)


LATER = NOW - timedelta(hours=1)
EARLIER = NOW - timedelta(minutes=90)
PREFER_TARGET = Route("src", policy=Policy(prefer=("dst", "src")))
PREFER_SOURCE = Route("src", policy=Policy(prefer=("src",)))
OWN_NOTE = Route("src", policy=Policy(never_overwrite=frozenset({"note"})))
NEW_NOTE = call(note="second", updated=LATER)

# (id, facts, action, reason fragment, fields)
TABLE: list[tuple[str, Facts, str, str, tuple[str, ...]]] = [
    (
        "filtered: outcome",
        facts(route=Route("src", Filters(outcomes=frozenset({Outcome.BUSY})))),
        "skip",
        "filtered",
        (),
    ),
    (
        "filtered: direction",
        facts(route=Route("src", Filters(directions=frozenset({Direction.INBOUND})))),
        "skip",
        "filtered",
        (),
    ),
    (
        "filtered: duration",
        facts(route=Route("src", Filters(min_duration_seconds=61))),
        "skip",
        "filtered",
        (),
    ),
    (
        "filtered: rep",
        facts(route=Route("src", Filters(user_emails=frozenset({"bo@acme.test"})))),
        "skip",
        "filtered",
        (),
    ),
    (
        "filtered: no rep",
        facts(call(user=None), route=Route("src", Filters(user_emails=frozenset({"x@y.z"})))),
        "skip",
        "filtered",
        (),
    ),
    (
        "passes every filter",
        facts(
            route=Route(
                "src",
                Filters(
                    frozenset({Outcome.CONNECTED}),
                    frozenset({Direction.OUTBOUND}),
                    60,
                    frozenset({"ana@acme.test"}),
                ),
            )
        ),
        "create",
        "not in the target",
        (),
    ),
    ("echo", facts(echo=True), "skip", "echo", ()),
    ("echo: a marked copy", facts(call(copy_of="abc")), "skip", "echo", ()),
    ("create", facts(), "create", "not in the target yet", ()),
    (
        "link: independent twin",
        facts(twin=Twin("t9")),
        "link",
        "logged independently",
        (),
    ),
    (
        "link: a sibling's record",
        facts(twin=Twin(None, "uid2", "r7")),
        "link",
        "held in the target as r7, the record of call uid2",
        (),
    ),
    ("review: ambiguous", facts(ambiguous=("t1", "t2")), "review", "any of t1, t2", ()),
    (
        "park: with candidates",
        facts(missing=Missing("no person", ("p1", "p2"))),
        "park",
        "no person (candidates: p1, p2)",
        (),
    ),
    ("park", facts(missing=Missing("no user")), "park", "no user", ()),
    (
        "review: waits for a person",
        facts(row=Row(planner.NEEDS_REVIEW)),
        "review",
        "waits for a person",
        (),
    ),
    ("skip: a person skipped it", facts(row=Row(planner.SKIPPED)), "skip", "by a person", ()),
    (
        "skip: backoff",
        facts(row=Row(planner.FAILED, next_attempt_at=NOW + timedelta(minutes=1))),
        "skip",
        "waiting for backoff",
        (),
    ),
    (
        "retry after backoff",
        facts(row=Row(planner.PARKED, next_attempt_at=NOW - timedelta(minutes=1))),
        "create",
        "not in the target",
        (),
    ),
    ("settle: in doubt", facts(row=Row(planner.IN_DOUBT)), "settle", "by marker", ()),
    (
        "skip: held as a sibling's record",
        facts(row=Row(planner.DONE, remote_id=None)),
        "skip",
        "another call's record",
        (),
    ),
    ("skip: unchanged", facts(row=done()), "skip", "unchanged since it was written", ()),
    (
        "skip: a twin left alone",
        facts(NEW_NOTE, row=done(kind=planner.MATCHED)),
        "skip",
        "left alone",
        (),
    ),
    ("update: a source edit", facts(NEW_NOTE, row=done()), "update", "changed: note", ("note",)),
    (
        "update: a twin, when the route says so",
        facts(NEW_NOTE, row=done(kind=planner.MATCHED), route=Route("src", update_twins=True)),
        "update",
        "changed: note",
        ("note",),
    ),
    (
        "update: a twin a person chose to write onto (review update-twin)",
        facts(NEW_NOTE, row=done(kind=planner.MATCHED, state=planner.FAILED)),
        "update",
        "changed: note",
        ("note",),
    ),
    (
        "update: a failed update is retried",
        facts(NEW_NOTE, row=done(state=planner.FAILED)),
        "update",
        "changed: note",
        ("note",),
    ),
    (
        "skip: an edit in the target is kept (latest)",
        facts(row=done(edits=edited("rep", EARLIER))),
        "skip",
        "edited in the target (note), kept",
        (),
    ),
    (
        "skip: the target's edit is newer than the source's",
        facts(call(note="second", updated=EARLIER), row=done(edits=edited("rep", LATER))),
        "skip",
        "edited in the target (note), kept",
        (),
    ),
    (
        "update: the source's edit is newer than the target's",
        facts(NEW_NOTE, row=done(edits=edited("rep", EARLIER))),
        "update",
        "changed: note",
        ("note",),
    ),
    (
        "update: prefer ranks the source above the target",
        facts(row=done(edits=edited("rep", LATER)), route=PREFER_SOURCE),
        "update",
        "changed: note",
        ("note",),
    ),
    (
        "skip: prefer ranks the target above the source",
        facts(NEW_NOTE, row=done(edits=edited("rep", EARLIER)), route=PREFER_TARGET),
        "skip",
        "edited in the target (note), kept",
        (),
    ),
    (
        "update: other fields, the kept edit sent as the target holds it",
        facts(
            call(note="second", duration_seconds=61, updated=LATER),
            row=done(edits=edited("rep", NOW)),
        ),
        "update",
        "changed: duration_seconds",
        ("duration_seconds",),
    ),
    (
        "skip: never_overwrite",
        facts(NEW_NOTE, row=done(), route=OWN_NOTE),
        "skip",
        "note never overwritten",
        (),
    ),
    (
        "update: never_overwrite leaves the field out",
        facts(call(note="second", outcome=Outcome.BUSY), row=done(), route=OWN_NOTE),
        "update",
        "changed: outcome",
        ("outcome",),
    ),
    (
        "stale: the target cannot update",
        facts(NEW_NOTE, row=done(), target=NO_UPDATE),
        "stale",
        "outreach cannot update calls",
        ("note",),
    ),
    (
        "create: recreate_on_change",
        facts(NEW_NOTE, row=done(), target=NO_UPDATE, route=Route("src", recreate_on_change=True)),
        "create",
        "r1 deleted and recreated",
        ("note",),
    ),
    (
        "stale: never recreate a twin",
        facts(
            NEW_NOTE,
            row=done(kind=planner.MATCHED),
            target=NO_UPDATE,
            route=Route("src", recreate_on_change=True, update_twins=True),
        ),
        "stale",
        "cannot update",
        ("note",),
    ),
    (
        "legacy row: unchanged",
        facts(row=done(basis=None, held={})),
        "skip",
        "unchanged since it was written",
        (),
    ),
    (
        "legacy row: changed, written whole",
        facts(NEW_NOTE, row=done(basis=None, held={})),
        "update",
        "changed: ",
        conflicts.FIELDS,
    ),
    (
        "legacy row: stale names the call",
        facts(NEW_NOTE, row=done(basis=None, held={}), target=NO_UPDATE),
        "stale",
        "cannot update",
        ("call",),
    ),
]


@pytest.mark.parametrize(
    ("given_facts", "action", "reason", "fields"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_the_plan(given_facts: Facts, action: str, reason: str, fields: tuple[str, ...]):
    decision = planner.plan(given_facts)
    assert (decision.action, decision.fields) == (action, fields)
    assert reason in decision.reason


def test_every_action_is_in_the_table():
    assert {planner.plan(row[1]).action for row in TABLE} == set(planner.ACTIONS)


def test_a_kept_edit_is_sent_as_the_target_holds_it():
    decision = planner.plan(
        facts(
            call(note="second", duration_seconds=61, updated=LATER),
            row=done(edits=edited("rep", NOW)),
        )
    )
    assert decision.keep == {"note": "rep"} and decision.kept_edits == ("note",)


@pytest.mark.parametrize("recreate", [True, False], ids=["recreate", "stale"])
def test_a_target_that_cannot_update_still_names_the_kept_edit(recreate: bool):
    decision = planner.plan(
        facts(
            call(note="second", duration_seconds=61, updated=LATER),
            row=done(edits=edited("rep", NOW)),
            target=NO_UPDATE,
            route=Route("src", recreate_on_change=recreate),
        )
    )
    assert decision.action == ("create" if recreate else "stale")
    assert decision.recreate is recreate
    assert decision.keep == {"note": "rep"} and decision.kept_edits == ("note",)


def test_never_overwrite_sends_what_was_written():
    decision = planner.plan(
        facts(call(note="second", outcome=Outcome.BUSY), row=done(), route=OWN_NOTE)
    )
    assert decision.keep == {"note": "first"}


def test_a_link_carries_its_twin():
    assert planner.plan(facts(twin=Twin("t9"))).twin == Twin("t9")


# --- properties -----------------------------------------------------------------------------

notes = st.one_of(st.none(), st.sampled_from(["first", "second", "rep", ""]))
times = st.sampled_from([EARLIER, LATER, NOW, None])
calls = st.builds(
    lambda note, outcome, duration, updated: call(
        note=note, outcome=outcome, duration_seconds=duration, updated=updated
    ),
    notes,
    st.sampled_from([Outcome.CONNECTED, Outcome.BUSY, Outcome.NO_ANSWER]),
    st.sampled_from([0, 60, 61]),
    times,
)
rows = st.one_of(
    st.none(),
    st.builds(
        lambda state, kind, edit, at, legacy: done(
            state=state,
            kind=kind,
            edits=Edits({"note": edit}, at) if edit is not None else Edits(),
            **({"basis": None, "held": {}} if legacy else {}),
        ),
        st.sampled_from([planner.DONE, planner.FAILED, planner.STALE]),
        st.sampled_from([planner.WRITTEN, planner.MATCHED]),
        notes,
        times,
        st.booleans(),
    ),
    st.builds(Row, st.sampled_from([planner.PARKED, planner.FAILED])),
)
routes = st.builds(
    lambda prefer, owned, twins, recreate: Route(
        "src",
        update_twins=twins,
        recreate_on_change=recreate,
        policy=Policy(prefer, frozenset(owned)),
    ),
    st.sampled_from([(), ("src",), ("dst",), ("dst", "src")]),
    st.sampled_from([(), ("note",), ("note", "outcome")]),
    st.booleans(),
    st.booleans(),
)
every_facts = st.builds(
    lambda the_call, row, route, target, twin: facts(
        the_call, row=row, route=route, target=target, twin=twin
    ),
    calls,
    rows,
    routes,
    st.sampled_from([CAN_UPDATE, NO_UPDATE]),
    st.sampled_from([None, Twin("t9")]),
)


def applied(given_facts: Facts, decision: Decision) -> Facts:
    """The facts after the decision's effect: create/update/link -> the row is done with the
    call's content (what an update sent, for the fields it kept)."""
    the_call = given_facts.call
    row = given_facts.row
    if decision.action == "link":
        kind, edits = planner.MATCHED, Edits()
    elif decision.action == "create":
        kind, edits = planner.WRITTEN, Edits()
    else:
        assert row is not None
        kind = row.kind
        kept = {f: v for f, v in row.edits.values.items() if f in decision.kept_edits}
        edits = Edits(kept, row.edits.at) if kept else Edits()
    values = {**conflicts.values(the_call), **decision.keep}
    effect = Row(
        planner.DONE,
        kind=kind,
        remote_id="r2",
        written_hash=the_call.content_hash(),
        basis=conflicts.digests(conflicts.values(the_call)),
        held=values,
        edits=edits,
    )
    return dataclasses.replace(given_facts, row=effect, twin=None)


@settings(max_examples=300, deadline=None)
@given(every_facts)
def test_a_plan_is_deterministic(given_facts: Facts):
    assert planner.plan(given_facts) == planner.plan(given_facts)


@settings(max_examples=300, deadline=None)
@given(every_facts)
def test_applying_a_plan_then_planning_again_yields_only_skips(given_facts: Facts):
    decision = planner.plan(given_facts)
    if decision.action not in ("create", "update", "link"):
        return
    again = planner.plan(applied(given_facts, decision))
    assert again.action == "skip", (decision, again)


def test_an_edit_is_a_note_that_differs_from_what_was_written():
    held = conflicts.values(ORIGINAL)
    copy = conflicts.values(call(note="rep", duration_seconds=62))
    assert conflicts.edited(copy, held, ("note",)) == {"note": "rep"}  # not the rounded duration
    assert conflicts.edited(held, held, ("note",)) == {}
