"""`callsync writes`: an admin sees the writes that did not land and settles one per command."""

from __future__ import annotations

import json
from datetime import timedelta

from syncer.store import database, leases, ledger, repo
from tests.cli.test_cli import EXAMPLE, callsync
from tests.engine.test_push import make_call


def test_a_write_in_review_is_listed_with_its_evidence_and_adopted(tmp_path, database_url):
    engine = database.create_engine(database_url)
    database.upgrade(engine)
    call = make_call(1)
    with engine.begin() as conn:
        repo.upsert_calls(conn, [call])
        fence = leases.take(conn, "push:pipedrive", "worker", timedelta(minutes=1))
        ledger.claim(conn, fence, call.call_uid, "pipedrive", call.call_uid, call.content_hash())
        ledger.settle(
            conn,
            fence,
            call.call_uid,
            "pipedrive",
            "needs_review",
            "logged for another user",
            evidence={"pipedrive_activity_id": 77},
        )
    env = {"CALLSYNC_DATABASE_URL": database_url}
    args = ("--config", str(EXAMPLE))
    listed = callsync("writes", "list", "--json", *args, cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    [item] = json.loads(listed.stdout)
    assert (item["state"], item["evidence"]) == ("needs_review", {"pipedrive_activity_id": 77})
    status = callsync("status", *args, cwd=tmp_path, env=env)
    assert "needs a person" in status.stdout
    adopted = callsync(
        "writes",
        "adopt",
        "--target",
        "pipedrive",
        call.call_uid,
        "42",
        *args,
        cwd=tmp_path,
        env=env,
    )
    assert adopted.returncode == 0, adopted.stderr
    with engine.connect() as conn:
        row = ledger.get(conn, call.call_uid, "pipedrive")
    assert (row.state, row.remote_id, row.evidence["decision"]) == ("done", "42", "adopt")
    again = callsync(
        "writes", "skip", "--target", "pipedrive", call.call_uid, *args, cwd=tmp_path, env=env
    )
    assert again.returncode == 2 and "already in pipedrive" in again.stderr
    engine.dispose()


def test_status_lists_duplicate_pairs_for_review(tmp_path, database_url):
    from syncer.store import review
    from syncer.store.twins import DuplicatePair

    engine = database.create_engine(database_url)
    database.upgrade(engine)
    copied, logged = make_call(1), make_call(2)
    with engine.begin() as conn:
        repo.upsert_calls(conn, [copied, logged])
        review.record_duplicates(
            conn, [DuplicatePair("close", logged.call_uid, "acti_9", copied.call_uid, "acti_1")]
        )
    env = {"CALLSYNC_DATABASE_URL": database_url}
    args = ("--config", str(EXAMPLE))
    shown = callsync("status", *args, cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "duplicate pairs for review" in shown.stdout and "acti_9" in shown.stdout
    as_json = json.loads(callsync("status", "--json", *args, cwd=tmp_path, env=env).stdout)
    [pair] = as_json["duplicate_pairs"]
    assert (pair["logged_remote"], pair["copy_remote"]) == ("acti_9", "acti_1")
    engine.dispose()
