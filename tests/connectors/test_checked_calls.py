"""Mapped calls are built without validating again (``checked``, ``syncer/model.py``): over
every vendor's seeded emulator world, the call each record maps to equals the fully validated
one, field by field and type by type, and its content hash and raw hash are the ones stored
before the fast path (``checked_hashes.json``, their first 16 hex digits: the ledger compares content hashes with what
it wrote, so a changed one would rewrite every call in every target).

``python -m tests.connectors.test_checked_calls`` rewrites the file; only ever do that on code
whose hashes are known good.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa

from connectors.base import Connector, Cursor, JsonDict
from connectors.close import records as close_records
from syncer import model
from syncer.errors import MappingFailure
from syncer.model import Call
from syncer.records import map_one
from syncer.store import database
from syncer.store.repo import raw_hash
from tests.connectors.close.test_close_records import BASE as CLOSE_RECORD
from tests.connectors.close.test_close_records import TABLE as CLOSE_TABLE
from tests.connectors.conftest import KINDS, _load_harness
from tests.connectors.harness import Harness

CALLS = 300
HASHES = Path(__file__).with_name("checked_hashes.json")


def _records(harness: Harness, engine: sa.Engine) -> tuple[Connector, list[JsonDict]]:
    harness.seed(CALLS)
    harness.settle()
    connector = harness.connector(engine)
    records = [
        record
        for stream in connector.streams
        for page in connector.read(stream, Cursor())
        for record in page.records
    ]
    return connector, records


def _same(fast: Any, full: Any, where: str) -> None:
    """Equal values of the same types all the way down (``StrEnum`` members equal strings)."""
    assert type(fast) is type(full), f"{where}: {type(fast)} is not {type(full)}"
    if isinstance(fast, pydantic.BaseModel):
        assert fast.model_fields_set == full.model_fields_set, where
        for name in type(fast).model_fields:
            _same(getattr(fast, name), getattr(full, name), f"{where}.{name}")
    elif isinstance(fast, dict):
        assert list(fast) == list(full), where
        for key in fast:
            _same(fast[key], full[key], f"{where}[{key!r}]")
    elif isinstance(fast, list | tuple):
        assert len(fast) == len(full), where
        for index, (a, b) in enumerate(zip(fast, full, strict=True)):
            _same(a, b, f"{where}[{index}]")
    elif isinstance(fast, Decimal):
        assert str(fast) == str(full), where
    else:
        assert fast == full, where
        if hasattr(fast, "tzinfo"):
            assert fast.tzinfo is full.tzinfo, f"{where}: {fast.tzinfo} vs {full.tzinfo}"


def test_checked_calls_equal_validated_ones(harness, engine):
    connector, records = _records(harness, engine)
    assert records
    mapped = 0
    for record in records:
        fast = map_one(connector, record)
        with model.validating():
            full = map_one(connector, record)
        if isinstance(fast, Call):
            mapped += 1
            _same(fast, full, connector.record_key(record))
            assert fast == full
            assert fast.content_hash() == full.content_hash()
        else:
            assert fast == full  # the same quarantine reason
    assert mapped


MALFORMED_CLOSE = [
    ("duration", -5, "duration: expected a non-negative integer, got -5"),
    ("duration", True, "duration: expected a non-negative integer, got True"),
    ("id", "", "the call has no id"),
    ("activity_at", "yesterday", "activity_at: not a timestamp: 'yesterday'"),
    ("date_updated", 7, "date_updated: expected a string, got 7"),
    ("cost", "NaN", "cost: not a number of cents: 'NaN'"),
    ("user_name", ["a"], "user_name: expected a string, got ['a']"),
    ("remote_phone", 12345, "remote_phone: expected a string, got 12345"),
    ("lead_id", 5, "lead_id: expected a string, got 5"),
    ("sequence_name", 1, "sequence_name: expected a string, got 1"),
    ("voicemail_url", [1], "voicemail_url: expected a string, got [1]"),
    ("outcome_id", 5, "outcome_id: expected a string, got 5"),
    ("direction", "sideways", "close direction: vendor value 'sideways' is not in the mapping"),
]


@pytest.mark.parametrize(("key", "value", "reason"), MALFORMED_CLOSE)
def test_a_malformed_close_record_is_still_quarantined_with_its_reason(key, value, reason):
    """What pydantic would have refused, the checked mapping refuses itself, in its words."""

    def mapped(record: JsonDict) -> Call | str:
        try:
            return close_records.to_call(
                record, connection="close-unit", table=CLOSE_TABLE, region="US", outcomes={}
            )
        except MappingFailure as failure:
            return failure.reason

    record = {**CLOSE_RECORD, key: value}
    assert mapped(record) == reason
    with model.validating():
        assert mapped(record) == reason
    assert isinstance(mapped(CLOSE_RECORD), Call)


def _hashes(harness: Harness, engine: sa.Engine) -> dict[str, list[str]]:
    connector, records = _records(harness, engine)
    found: dict[str, list[str]] = {}
    for record in records:
        call = map_one(connector, record)
        if isinstance(call, Call):
            # 64 bits of each digest tell a changed hash as surely as 256, in a smaller file.
            found[call.source.external_id] = [call.content_hash()[:16], raw_hash(call.raw)[:16]]
    return found


def test_content_hashes_are_the_ones_stored_before(harness, engine):
    assert _hashes(harness, engine) == json.loads(HASHES.read_text())[harness.kind]


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
