"""``callsync review list|resolve`` and the count in ``callsync status``, as a person runs them."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from syncer.cli import main
from syncer.store import database, leases, ledger, repo
from syncer.store import review as store_review
from syncer.store.twins import DuplicatePair
from tests.cli.test_cli import EXAMPLE
from tests.engine.test_push import make_call


def invoke(database_url: str, *args: str):
    env = {"CALLSYNC_DATABASE_URL": database_url}
    return CliRunner().invoke(main, [*args, "--config", str(EXAMPLE)], env=env)


def waiting_store(database_url: str):
    """A parked call with candidates in close, an in-doubt one in pipedrive, a duplicate pair."""
    engine = database.create_engine(database_url)
    database.upgrade(engine)
    parked, doubt, logged = make_call(1), make_call(2), make_call(3)
    with engine.begin() as conn:
        repo.upsert_calls(conn, [parked, doubt, logged])
        for target, call, state, reason in (
            ("close", parked, ledger.PARKED, "2 Close contacts match (candidates: cont_1, cont_2)"),
            ("pipedrive", doubt, ledger.NEEDS_REVIEW, "logged for another user"),
        ):
            fence = leases.take(conn, f"push:{target}", "worker", timedelta(minutes=1))
            ledger.claim(conn, fence, call.call_uid, target, call.call_uid, call.content_hash())
            ledger.settle(conn, fence, call.call_uid, target, state, reason)
            leases.release(conn, fence)
        store_review.record_duplicates(
            conn, [DuplicatePair("close", logged.call_uid, "acti_9", parked.call_uid, "acti_1")]
        )
    return engine, parked, doubt


def test_list_json_parses_and_filters(database_url):
    engine, parked, doubt = waiting_store(database_url)
    listed = invoke(database_url, "review", "list", "--json")
    assert listed.exit_code == 0, listed.output
    items = {item["id"]: item for item in json.loads(listed.stdout)}
    assert set(items) == {f"w:close:{parked.call_uid}", f"w:pipedrive:{doubt.call_uid}", "r:1"}
    assert items[f"w:close:{parked.call_uid}"]["options"] == ["cont_1", "cont_2", "retry", "skip"]
    assert items[f"w:pipedrive:{doubt.call_uid}"]["kind"] == "in_doubt"
    assert items["r:1"]["evidence"]["logged_remote"] == "acti_9"
    only = invoke(database_url, "review", "list", "--json", "--kind", "duplicate_pair")
    assert [item["id"] for item in json.loads(only.stdout)] == ["r:1"]
    one = invoke(database_url, "review", "list", "--json", "--connection", "pipedrive")
    assert [item["kind"] for item in json.loads(one.stdout)] == ["in_doubt"]
    text = invoke(database_url, "review", "list")
    assert "3 item(s) waiting for review" in text.stdout and "options: keep-both" in text.stdout
    engine.dispose()


def test_resolve_prints_and_records_and_status_counts(database_url):
    engine, parked, doubt = waiting_store(database_url)
    status = invoke(database_url, "status")
    assert "waiting for review" in status.stdout and "ambiguous identity" in status.stdout
    counts = json.loads(invoke(database_url, "status", "--json").stdout)["review_waiting"]
    assert counts == {"ambiguous_identity": 1, "in_doubt": 1, "duplicate_pair": 1}
    chose = invoke(
        database_url, "review", "resolve", f"w:close:{parked.call_uid}", "--choose", "cont_2"
    )
    assert chose.exit_code == 0, chose.output
    assert "chose cont_2" in chose.stdout
    adopted = invoke(
        database_url,
        "review",
        "resolve",
        f"w:pipedrive:{doubt.call_uid}",
        "--choose",
        "adopt",
        "--remote-id",
        "77",
    )
    assert adopted.exit_code == 0 and "adopted 77" in adopted.stdout
    merged = invoke(database_url, "review", "resolve", "r:1", "--choose", "merged")
    assert merged.exit_code == 0 and "merged, recorded by " in merged.stdout
    with engine.connect() as conn:
        assert ledger.get(conn, doubt.call_uid, "pipedrive").evidence["decision"] == "adopt"
        assert "chosen by" in ledger.get(conn, parked.call_uid, "close").reason
    assert json.loads(invoke(database_url, "review", "list", "--json").stdout) == []
    assert "waiting for review" not in invoke(database_url, "status").stdout
    engine.dispose()


def test_unknown_ids_and_options_exit_2(database_url):
    engine, parked, _ = waiting_store(database_url)
    for item_id, option in (
        ("r:42", "merged"),
        ("w:close:nope", "skip"),
        ("garbage", "skip"),
        ("r:1", "accept"),
        (f"w:close:{parked.call_uid}", "cont_3"),
    ):
        result = invoke(database_url, "review", "resolve", item_id, "--choose", option)
        assert result.exit_code == 2, (item_id, result.output)
        assert "error: " in result.output
    help_text = invoke(database_url, "review", "resolve", "--help").stdout
    assert "w:TARGET:CALL_UID" in help_text and "r:N" in help_text
    engine.dispose()
