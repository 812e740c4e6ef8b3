"""Content and raw hashes stay the ones callsync stored before: over every vendor's seeded
emulator world, each mapped call's content hash and its raw payload's hash equal those of
``content_hashes.json`` (their first 16 hex digits), made from integrate3 before the pull's
CPU work (issue 13). The ledger compares content hashes with what it wrote, so a changed
serialisation would rewrite every call in every target; this is the test that says so.

``python -m tests.connectors.test_content_hashes DIR`` rewrites the file (DIR: scratch space
for the databases); only ever do that on code whose hashes are known good.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sqlalchemy as sa

from connectors.base import Cursor
from syncer.model import Call
from syncer.records import map_one
from syncer.store import database
from syncer.store.repo import raw_hash
from tests.connectors.conftest import KINDS, _load_harness
from tests.connectors.harness import Harness

CALLS = 300
HASHES = Path(__file__).with_name("content_hashes.json")


def _hashes(harness: Harness, engine: sa.Engine) -> dict[str, list[str]]:
    harness.seed(CALLS)
    harness.settle()
    connector = harness.connector(engine)
    found: dict[str, list[str]] = {}
    for stream in connector.streams:
        for page in connector.read(stream, Cursor()):
            for record in page.records:
                call = map_one(connector, record)
                if isinstance(call, Call):
                    # 64 bits of each digest tell a changed hash as surely as 256.
                    found[call.source.external_id] = [
                        call.content_hash()[:16],
                        raw_hash(call.raw)[:16],
                    ]
    return found


def test_content_hashes_are_the_ones_stored_before(harness, engine):
    found = _hashes(harness, engine)
    expected = json.loads(HASHES.read_text())[harness.kind]
    assert len(found) == len(expected)
    changed = sorted(key for key, hashes in found.items() if expected.get(key) != hashes)
    assert not changed, f"{len(changed)} of {len(found)} hashes changed, e.g. {changed[:3]}"


def _write_hashes(directory: str) -> None:
    found = {}
    for kind in KINDS:
        engine = database.create_engine(f"sqlite:///{directory}/{kind}.db")
        database.upgrade(engine)
        found[kind] = _hashes(_load_harness(kind)(), engine)
        engine.dispose()
    HASHES.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    _write_hashes(sys.argv[1])
