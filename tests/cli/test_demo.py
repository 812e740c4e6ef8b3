"""``callsync demo`` end to end, in a subprocess through the installed entry point: its numbers
are checked against the world computed here from ``World`` and against the records the
emulators hold (counted by callsync's marker, as the chaos trials do).

Pipedrive as a *source* reads other reps' calls from their activities, without numbers
(README: "what the API shows"), so its calls cannot always be linked or placed: for routes
from it (and twins logged there) the test checks conservation and the reasons, not counts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectors.emulation.world import World, WorldCall
from syncer.demo.scenario import EDITED_NOTE
from tests.chaos.trial import CALL_COLLECTION, MARKER

SEED = 5
CALLS = 150  # the demo's default
KIND = {"ample": "amplemarket", "close": "close", "outreach": "outreach", "pipedrive": "pipedrive"}


def callsync() -> list[str]:
    found = shutil.which("callsync", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "syncer"]


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*callsync(), *args], capture_output=True, text=True, timeout=timeout, env=os.environ
    )


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("demo") / "kept"
    done = run("demo", "--json", "--seed", str(SEED), "--keep", str(directory))
    assert done.returncode == 0, done.stderr
    return directory, json.loads(done.stdout)


def world() -> World:
    # The demo's world: same seed and size; held_back as the demo sets it (start is irrelevant
    # to which calls exist, which tool holds them, and which contacts are missing where).
    return World(seed=SEED, calls=CALLS, held_back=max(8, CALLS // 15))


def markers(directory: Path, kind: str) -> Counter[str]:
    state = sqlite3.connect(directory / "emulators" / f"{kind}.sqlite")
    try:
        rows = state.execute("SELECT doc FROM docs WHERE coll = ?", (CALL_COLLECTION[kind],))
        found: Counter[str] = Counter()
        for (doc,) in rows:
            found.update({m.group(1) or m.group(2) for m in MARKER.finditer(doc)})
        return found
    finally:
        state.close()


def store(directory: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(directory / "callsync.db")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def links(
    directory: Path, source: str, target: str, *, live: bool = False
) -> Counter[tuple[str, str]]:
    rows = store(
        directory,
        "SELECT l.state, l.kind FROM call_links l JOIN calls c USING (call_uid) "
        "WHERE c.origin_connection = ? AND l.target_connection = ?"
        + (" AND c.deleted_at IS NULL" if live else ""),
        source,
        target,
    )
    return Counter((state, kind) for state, kind in rows)


def expected(source: str, target: str) -> dict[str, int]:
    """From the world alone: a call of the source is linked when its twin was logged in the
    target, else written when its person exists there, else parked."""
    calls = [*world().iter_calls(), *world().arrivals()]
    by_key = {call.key: call for call in calls}

    def twinned_in(call: WorldCall) -> set[str]:
        found = {c.system for c in calls if c.twin_of == call.key}
        return found | ({by_key[call.twin_of].system} if call.twin_of else set())

    mine = [c for c in calls if c.system == KIND[source]]
    linked = [c for c in mine if KIND[target] in twinned_in(c)]
    rest = [c for c in mine if c not in linked]
    written = [c for c in rest if world().has_contact(KIND[target], c.contact)]
    return {"calls": len(mine), "linked": len(linked), "written": len(written),
            "parked": len(rest) - len(written)}  # fmt: skip


@pytest.mark.parametrize(("source", "target"), [("ample", "close"), ("close", "outreach")])
def test_each_routed_call_is_written_linked_or_parked_as_the_world_says(kept, source, target):
    """Every call of the source has one write row per target; twins are linked and calls
    to people missing in the target are parked, as the world says. The world's data is
    realistic, so the counts are bounds: a twin logged without a duration (Close's
    integrations do that) cannot be matched and is written; a call whose number the source
    shows in no parseable form waits instead of being written."""
    directory, _ = kept
    want = expected(source, target)
    got = links(directory, source, target)
    assert got.total() == want["calls"]
    assert set(got) <= {("done", "written"), ("done", "matched"), ("parked", "written")}
    assert 0 < got[("done", "matched")] <= want["linked"]
    assert got[("parked", "written")] >= want["parked"]
    written = got[("done", "written")]
    assert want["written"] - 2 <= written <= want["written"] + want["linked"]


def test_every_target_holds_each_written_call_exactly_once_and_no_twin_copy(kept):
    directory, _ = kept
    rows = store(directory, "SELECT call_uid, target_connection, state, kind FROM call_links")
    held = {name: markers(directory, KIND[name]) for name in ("close", "outreach", "pipedrive")}
    for name, counts in held.items():
        assert all(count == 1 for count in counts.values()), name
    for call_uid, target, state, kind in rows:
        if (state, kind) == ("done", "written"):
            assert held[target][call_uid] == 1, (target, call_uid)
        elif kind == "matched":
            assert held[target][call_uid] == 0, (target, call_uid)  # linked, not copied
    for source in ("ample", "pipedrive"):  # conservation where counts depend on Pipedrive
        for target in ("pipedrive", "close"):
            if source != target and (source, target) != ("pipedrive", "pipedrive"):
                assert links(directory, source, target).total() > 0


def test_parked_writes_say_no_such_person_and_the_malformed_records_are_quarantined(kept):
    _, summary = kept
    reasons = {w["reason"] for w in summary["waiting"]["writes"] if w["state"] == "parked"}
    assert reasons
    assert all(
        re.match(r"no \w+ (person|prospect) with |the call has no number", r) for r in reasons
    )
    assert any(r.startswith("no Close person with ") for r in reasons)
    malformed = summary["runs"][0]["happened"]["malformed"]
    held = {
        (q["connection"], q["external_id"]): q["reason"] for q in summary["waiting"]["quarantined"]
    }
    assert {(m["connection"], m["external_id"]) for m in malformed} == set(held)
    assert {connection for connection, _ in held} == set(KIND)
    assert summary["totals"]["quarantined"] == len(KIND)


def test_the_edited_call_is_updated_in_close_and_the_deleted_one_is_seen(kept):
    directory, summary = kept
    cycles = {item["run"]: item for item in summary["runs"]}
    [edited] = cycles["cycle 2"]["happened"]["edited"]
    [deleted] = cycles["cycle 3"]["happened"]["deleted"]
    assert cycles["cycle 2"]["writes"]["ample -> close, pipedrive"]["close"]["updated"] == 1
    [(call_uid,)] = store(
        directory,
        "SELECT call_uid FROM source_records WHERE connection = ? AND external_id = ?",
        edited["connection"],
        edited["external_id"],
    )
    close_docs = sqlite3.connect(directory / "emulators" / "close.sqlite")
    try:
        docs = [
            doc for (doc,) in close_docs.execute("SELECT doc FROM docs WHERE coll = 'close_calls'")
        ]
    finally:
        close_docs.close()
    [copy] = [doc for doc in docs if call_uid in doc]
    assert EDITED_NOTE in copy
    [(deleted_at,)] = store(
        directory,
        "SELECT deleted_at FROM source_records WHERE connection = ? AND external_id = ?",
        deleted["connection"],
        deleted["external_id"],
    )
    assert deleted_at is not None
    assert cycles["cycle 3"]["reads"][deleted["connection"]]["deleted"] == 1


def test_the_kept_directory_works_with_the_other_commands(kept):
    directory, summary = kept
    assert summary["config"] == str(directory.resolve() / "callsync.yaml")
    status = run("status", "--config", summary["config"], timeout=60)
    assert status.returncode == 0, status.stderr
    listed = run("writes", "list", "--config", summary["config"], "--json", timeout=60)
    assert listed.returncode == 0 and json.loads(listed.stdout)


def test_serve_prints_the_urls_and_stops_on_sigint(tmp_path):
    process = subprocess.Popen(
        [*callsync(), "demo", "--serve", "--quiet", "--calls", "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("config"):
                break
        urls = [line.split()[1] for line in lines if line.split()[0] in KIND.values()]
        assert len(urls) == 4 and all(url.startswith("http://127.0.0.1:") for url in urls)
        config = Path(lines[-1].split()[1])
        assert config.is_file()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert not config.exists()  # no --keep: the temporary directory is gone
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_help_names_every_option():
    done = run("demo", "--help", timeout=60)
    assert done.returncode == 0
    for option in ("--seed", "--calls", "--keep", "--serve", "--json", "--quiet"):
        assert option in done.stdout


def test_the_coverage_report_agrees_with_the_ledger(kept):
    """The report the demo ends with counts what the store holds: per route target, the calls
    written and linked are the ledger's done rows of that kind, for the calls not deleted at
    their source (the one the demo deleted is no longer expected anywhere)."""
    directory, summary = kept
    routes = {route["route"]: route for route in summary["coverage"]["routes"]}
    route = routes["ample -> close, pipedrive"]
    for target in route["targets"]:
        got = links(directory, "ample", target["target"], live=True)
        assert target["written"] == got[("done", "written")], target
        assert target["linked"] == got[("done", "matched")], target
        missing = {m["reason"]: m["count"] for m in target["missing"]}
        assert missing["parked"] == got[("parked", "written")]
    tools = {tool["connection"]: tool for tool in summary["coverage"]["tools"]}
    assert set(tools) == set(KIND)
