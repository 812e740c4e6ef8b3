"""The repository on both backends: upserts, cursors, quarantine, runs, leases, tokens, ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from syncer.model import Call, Outcome, PhoneNumber, SourceIdentity
from syncer.store import leases, ledger, repo, runs
from syncer.store.tables import UtcDateTime


def make_call(external_id: str = "c1", updated: datetime | None = None, **fields) -> Call:
    defaults = {
        "source": SourceIdentity(
            system="close",
            connection="close",
            external_id=external_id,
            source_updated_at=updated or datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        ),
        "started_at": datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        "outcome": Outcome.CONNECTED,
        "to_number": PhoneNumber.parse("(415) 555-0199"),
        "duration_seconds": 83,
        "raw": {"id": external_id, "disposition": "answered"},
    }
    return Call(**{**defaults, **fields})


def test_upsert_inserts_then_updates(engine):
    first = make_call()
    with engine.begin() as conn:
        repo.upsert_calls(conn, [first])
        repo.upsert_source_records(conn, [first])
    newer = make_call(updated=datetime(2026, 1, 5, 11, 0, tzinfo=UTC), duration_seconds=90)
    with engine.begin() as conn:
        repo.upsert_calls(conn, [newer])
        repo.upsert_source_records(conn, [newer])
        stored = repo.load_call(conn, first.call_uid)
        assert repo.count_calls(conn) == 1
    assert stored is not None
    assert stored.duration_seconds == 90
    assert stored.to_number is not None and stored.to_number.e164 == "+14155550199"
    assert stored.started_at.tzinfo is not None


def test_upsert_never_rolls_a_call_back(engine):
    newer = make_call(updated=datetime(2026, 1, 5, 12, 0, tzinfo=UTC), duration_seconds=120)
    older = make_call(updated=datetime(2026, 1, 5, 10, 0, tzinfo=UTC), duration_seconds=5)
    with engine.begin() as conn:
        repo.upsert_calls(conn, [newer])
        repo.upsert_calls(conn, [older])
        stored = repo.load_call(conn, newer.call_uid)
    assert stored is not None and stored.duration_seconds == 120


def test_bulk_upsert_is_chunked(engine):
    calls = [make_call(external_id=f"c{i}") for i in range(2500)]
    with engine.begin() as conn:
        repo.upsert_calls(conn, calls)
        repo.upsert_source_records(conn, calls)
        assert repo.count_calls(conn) == 2500


def test_page_and_cursor_commit_together(engine):
    """A failure after the calls are written must not leave the cursor ahead of them."""
    call = make_call()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        repo.upsert_calls(conn, [call])
        repo.save_cursor(conn, "close", "calls", completed={"date_created": "2026-01-05"})
        raise RuntimeError("crash before commit")
    with engine.connect() as conn:
        assert repo.count_calls(conn) == 0
        assert repo.get_cursor(conn, "close", "calls").completed is None


def test_cursor_keeps_completed_and_partial_apart(engine):
    with engine.begin() as conn:
        repo.save_cursor(conn, "close", "calls", completed={"w": 1})
        repo.save_cursor(conn, "close", "calls", partial={"skip": 100})
        state = repo.get_cursor(conn, "close", "calls")
        assert (state.completed, state.partial) == ({"w": 1}, {"skip": 100})
        repo.save_cursor(conn, "close", "calls", completed={"w": 2}, partial=None)
        state = repo.get_cursor(conn, "close", "calls")
        assert (state.completed, state.partial) == ({"w": 2}, None)
        assert [(c, s) for c, s, _ in repo.list_cursors(conn)] == [("close", "calls")]


def test_quarantine_counts_attempts_and_resolves(engine):
    bad = repo.Quarantined("r1", {"id": "r1", "disposition": "teleported"}, "unmapped disposition")
    with engine.begin() as conn:
        repo.quarantine(conn, "close", "calls", [bad])
        repo.quarantine(conn, "close", "calls", [bad])
        rows = repo.open_quarantine(conn, "close")
        assert [(r.record_key, r.attempts, r.reason) for r in rows] == [
            ("r1", 2, "unmapped disposition")
        ]
        assert repo.quarantine_counts(conn) == {"close": 1}
        assert repo.resolve_quarantined(conn, "close", ["r1"]) == 1
        assert repo.quarantine_counts(conn) == {}


def test_runs_report_the_latest_per_connection(engine):
    with engine.begin() as conn:
        first = runs.start_run(conn, "close", "pull")
        runs.finish_run(conn, first, "failed", {}, "boom")
        second = runs.start_run(conn, "close", "pull")
        runs.finish_run(conn, second, "ok", {"read": 3})
        latest = runs.last_runs(conn)["close"]
    assert (latest.id, latest.status, latest.stats) == (second, "ok", {"read": 3})


def test_lease_is_exclusive_until_it_expires(engine):
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    ttl = timedelta(minutes=5)
    with engine.begin() as conn:
        a = leases.take(conn, "close:calls", "worker-a", ttl, now)
        assert a is not None
        assert leases.take(conn, "close:calls", "worker-b", ttl, now) is None
        assert leases.take(conn, "close:calls", "worker-a", ttl, now + timedelta(minutes=1))
        later = now + timedelta(minutes=7)
        b = leases.take(conn, "close:calls", "worker-b", ttl, later)
        assert b is not None
        leases.release(conn, b)
        assert leases.take(conn, "close:calls", "worker-a", ttl, later)


def test_token_store_is_compare_and_set(engine):
    expires = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    token = repo.StoredToken("refresh-1", "access-1", expires, 0)
    with engine.begin() as conn:
        assert repo.store_token(conn, "outreach", token, expected_version=None)
        assert not repo.store_token(conn, "outreach", token, expected_version=None)
        stored = repo.load_token(conn, "outreach")
        assert stored is not None and stored.version == 1
        rotated = repo.StoredToken("refresh-2", "access-2", expires, 0)
        assert repo.store_token(conn, "outreach", rotated, expected_version=1)
        # A worker still holding version 1 must not overwrite the newer token.
        assert not repo.store_token(conn, "outreach", token, expected_version=1)
        final = repo.load_token(conn, "outreach")
    assert final is not None and (final.refresh_token, final.version) == ("refresh-2", 2)


def test_write_ledger_moves_through_its_states_under_a_fence(engine):
    call = make_call()
    with engine.begin() as conn:
        repo.upsert_calls(conn, [call])
        fence = leases.take(conn, "push:pipedrive", "me", timedelta(minutes=1))
        ledger.claim(conn, fence, call.call_uid, "pipedrive", call.call_uid, call.content_hash())
        assert ledger.get(conn, call.call_uid, "pipedrive").state == "in_doubt"
        reason = "no Pipedrive person with +14155550199"
        ledger.settle(conn, fence, call.call_uid, "pipedrive", "parked", reason)
        assert ledger.get(conn, call.call_uid, "pipedrive").state == "parked"
        ledger.complete(conn, fence, call.call_uid, "pipedrive", "CA123", call.content_hash())
        link = ledger.get(conn, call.call_uid, "pipedrive")
    assert (link.state, link.kind, link.remote_id, link.attempts) == ("done", "written", "CA123", 0)


def test_a_lease_taken_over_fences_out_its_old_holder(engine):
    call = make_call()
    with engine.begin() as conn:
        repo.upsert_calls(conn, [call])
        old = leases.take(conn, "push:close", "a", timedelta(seconds=-1))  # expired
        assert leases.take(conn, "push:close", "b", timedelta(minutes=1)) is not None
        assert leases.take(conn, "push:close", "a", timedelta(minutes=1)) is None
        with pytest.raises(leases.LeaseLostError):
            ledger.claim(conn, old, call.call_uid, "close", call.call_uid, "")
        assert ledger.get(conn, call.call_uid, "close") is None


def test_utc_column_refuses_naive_datetimes(engine):
    column = UtcDateTime()
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 1, 5), engine.dialect)
    assert column.process_result_value(datetime(2026, 1, 5), sa.dialects.sqlite.dialect()).tzinfo


def test_sqlite_checkpoints_its_wal_every_ten_thousand_pages(tmp_path):
    """Pull pages commit into a WAL checkpointed at 10,000 pages, not SQLite's 1,000 (CPU)."""
    from syncer.store import database

    engine = database.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        pragma = conn.exec_driver_sql
        assert pragma("PRAGMA wal_autocheckpoint").scalar() == database.WAL_CHECKPOINT_PAGES
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()
