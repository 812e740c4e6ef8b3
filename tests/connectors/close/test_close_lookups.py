"""Issue 9.1: a failing label look-up degrades labels; it never stops the Close pull.

The rep's e-mail comes from ``GET /user/`` and custom-outcome labels from ``GET /outcome/``.
When either fails (gone: 404; broken: 5xx after the client's retries) every call is still read
and stored, marked incomplete, and a later run (the look-up answering again) fills the label
from the stored raw payload, without the vendor sending the call again.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from connectors.base import Cursor
from connectors.close.emulator import CloseEmulator
from connectors.emulation import FaultKind, FaultPlan
from syncer.pull import StreamStats, commit_page, pull
from syncer.store import repo
from tests.connectors.close.harness import NAME, CloseHarness, make_harness
from tests.connectors.close.helpers import stored, vendor_call, vendor_ids

USERS = r"^/api/v1/user/$"
OUTCOMES = r"^/api/v1/outcome/$"
BROKEN = [(FaultKind.REFUSED, 404), (FaultKind.SERVER_ERROR, 503)]


def _break(faults: FaultPlan, path: str, kind: FaultKind, status: int) -> None:
    faults.script(kind, method="GET", path=path, status=status, times=1000)


def _user_emails(harness: CloseHarness) -> dict[str, str]:
    users = [item.doc["user"] for item in harness.emulator.store.users.scan()]
    return {user["id"]: user["email"].lower() for user in users}


def _rep_emails(engine: sa.Engine) -> dict[str, str | None]:
    return {key: (row["data"]["user"] or {}).get("email") for key, row in stored(engine).items()}


def _incomplete(engine: sa.Engine) -> dict[str, str]:
    src = repo.sources_t
    stmt = sa.select(src.c.external_id, src.c.incomplete).where(
        src.c.connection == NAME, src.c.incomplete.is_not(None)
    )
    with engine.connect() as conn:
        return {row.external_id: row.incomplete for row in conn.execute(stmt)}


def _with_user(harness: CloseHarness) -> dict[str, str]:
    """call id -> its rep's e-mail, for the calls whose user Close knows."""
    emails = _user_emails(harness)
    found = {key: vendor_call(harness, key).get("user_id") for key in vendor_ids(harness)}
    return {key: emails[user] for key, user in found.items() if user in emails}


@pytest.mark.parametrize(("kind", "status"), BROKEN)
def test_a_failing_user_lookup_reads_every_call_and_a_later_run_fills_the_rep(
    engine: sa.Engine, kind: FaultKind, status: int
) -> None:
    faults = FaultPlan()
    harness = make_harness(faults=faults, settings={"page_size": 50})
    harness.seed(180)
    harness.settle()
    _break(faults, USERS, kind, status)
    result = pull(engine, harness.connector(engine))
    assert result.ok, result.error
    assert set(stored(engine)) == vendor_ids(harness)
    expected = _with_user(harness)
    assert len(expected) > 100
    assert all(_rep_emails(engine)[key] is None for key in expected)
    assert set(expected) <= set(_incomplete(engine))
    assert all("GET /user/ failed" in reason for reason in _incomplete(engine).values())

    faults.clear()  # the directory answers again; no call changed in Close meanwhile
    again = pull(engine, harness.connector(engine))
    assert again.ok, again.error
    emails = _rep_emails(engine)
    assert {key: emails[key] for key in expected} == expected
    assert _incomplete(engine) == {}


def test_a_failing_outcome_lookup_keeps_reading_and_labels_later(engine: sa.Engine) -> None:
    faults = FaultPlan()
    harness = make_harness(faults=faults)
    harness.seed(150)
    harness.settle()
    _break(faults, OUTCOMES, FaultKind.REFUSED, 404)
    assert pull(engine, harness.connector(engine)).ok
    wrong = CloseEmulator.outcome_id("Wrong number")
    labelled = [
        k for k in vendor_ids(harness) if vendor_call(harness, k).get("outcome_id") == wrong
    ]
    assert labelled
    rows = stored(engine)
    assert set(rows) == vendor_ids(harness)
    assert {rows[k]["data"]["disposition"]["label"] for k in labelled} == {None}
    assert set(labelled) <= set(_incomplete(engine))

    faults.clear()
    assert pull(engine, harness.connector(engine)).ok
    rows = stored(engine)
    assert {rows[k]["data"]["disposition"]["label"] for k in labelled} == {"Wrong number"}
    assert _incomplete(engine) == {}


def test_a_call_read_again_while_incomplete_is_mapped_again(engine: sa.Engine) -> None:
    """An unchanged payload is normally skipped; an incomplete one is not (the in-progress
    and event re-reads fill labels too, not only the relabel pass)."""
    faults = FaultPlan()
    harness = make_harness(faults=faults)
    call_id = harness.add_call()
    harness.settle()
    _break(faults, USERS, FaultKind.REFUSED, 404)
    assert pull(engine, harness.connector(engine)).ok
    assert _incomplete(engine).keys() == {call_id}
    faults.clear()
    fresh = harness.connector(engine)
    page = next(p for p in fresh.read("calls", Cursor()) if p.records)
    with engine.begin() as conn:
        commit_page(conn, fresh, "calls", page, StreamStats())
    assert _incomplete(engine) == {}
    assert _rep_emails(engine)[call_id] is not None
