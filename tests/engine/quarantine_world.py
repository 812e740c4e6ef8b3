"""Shared by the quarantine replay tests: a Close account with records callsync quarantines,
and mapping tables that have since learnt the unknown value."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from syncer.pull import pull
from syncer.resources import mappings_dir
from syncer.store import repo
from tests.connectors.close.harness import NAME, CloseHarness, make_harness
from tests.connectors.close.helpers import vendor_call, vendor_ids

UNKNOWN = "teleported"  # a Close disposition no mapping table knows (yet)
TELEPORTED = "acti_teleported"  # an unknown disposition, no user or custom outcome named
TELEPORTED_REP = "acti_teleportedrep"  # the same, naming its rep (a look-up to label it)
BROKEN = "acti_broken"  # a duration no mapping can read


def mappings_knowing(directory: Path, system: str, dimension: str, value: str, canonical: str):
    """A copy of the bundled ``mappings/`` in ``directory`` whose ``system`` table reads the
    vendor value ``value`` of ``dimension`` as ``canonical`` (what a newer release ships)."""
    shutil.copytree(mappings_dir(), directory, dirs_exist_ok=True)
    path = directory / f"{system}.yaml"
    data = yaml.safe_load(path.read_text())
    spec = data["dimensions"][dimension]
    spec["values"].append(value)
    spec["read"][value] = canonical
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


def quarantined_world(engine: sa.Engine, *, with_rep: bool = False) -> CloseHarness:
    """A pulled Close account whose :data:`TELEPORTED` and :data:`BROKEN` calls (and, with
    ``with_rep``, :data:`TELEPORTED_REP`) are quarantined."""
    harness = make_harness()
    harness.seed(30)
    model = vendor_call(harness, min(vendor_ids(harness)))
    bad: dict[str, dict[str, Any]] = {
        TELEPORTED: {"disposition": UNKNOWN, "user_id": None, "outcome_id": None},
        BROKEN: {"duration": "long"},
    }
    if with_rep:
        bad[TELEPORTED_REP] = {"disposition": UNKNOWN, "outcome_id": None}
    for call_id, change in bad.items():
        harness.emulator.calls.put({**model, "id": call_id, "note": None, **change})
    harness.settle()
    assert pull(engine, harness.connector(engine)).ok
    assert set(open_rows(engine)) == set(bad)
    return harness


def open_rows(engine: sa.Engine) -> dict[str, Any]:
    """record key -> the open quarantine row of the Close connection."""
    with engine.connect() as conn:
        return {row.record_key: row for row in repo.open_quarantine(conn, NAME)}


def stored_call(engine: sa.Engine, external_id: str) -> Any:
    """The source record and canonical call of ``external_id``, if stored."""
    src, calls = repo.sources_t, repo.calls_t
    stmt = (
        sa.select(src.c.incomplete, calls.c.call_uid, calls.c.data)
        .join(calls, calls.c.call_uid == src.c.call_uid)
        .where(src.c.connection == NAME, src.c.external_id == external_id)
    )
    with engine.connect() as conn:
        return conn.execute(stmt).first()
