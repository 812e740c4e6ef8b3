"""Reading the emulated Close account back out of callsync's store (shared by the e2e tests)."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from connectors.close.emulator import CloseEmulator
from connectors.emulation import EmulatorTransport
from syncer.errors import VendorError
from syncer.pull import pull
from syncer.store import repo
from tests.connectors.close.harness import NAME, CloseHarness


def stored(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    """external id -> {"data": canonical JSON, "deleted_at": ...} of this connection."""
    src, calls = repo.sources_t, repo.calls_t
    stmt = (
        sa.select(src.c.external_id, src.c.deleted_at, calls.c.data)
        .join(calls, calls.c.call_uid == src.c.call_uid)
        .where(src.c.connection == NAME)
    )
    with engine.connect() as conn:
        return {
            row.external_id: {"data": row.data, "deleted_at": row.deleted_at}
            for row in conn.execute(stmt)
        }


def live(engine: sa.Engine) -> set[str]:
    return {key for key, row in stored(engine).items() if row["deleted_at"] is None}


def vendor_ids(harness: CloseHarness) -> set[str]:
    return {item.id for item in harness.emulator.store.calls.scan()}


def vendor_call(harness: CloseHarness, call_id: str) -> dict[str, Any]:
    """The call as the emulated Close account holds it now (transcripts included)."""
    record = harness.emulator.call(call_id)
    assert record is not None, call_id
    return record


def pull_until_ok(
    harness: CloseHarness, engine: sa.Engine, attempts: int = 12, **settings: Any
) -> int:
    """Pull again after every failed run (what the scheduler does); returns the runs needed."""
    for run in range(1, attempts + 1):
        try:
            result = pull(engine, harness.connector(engine, **settings))
        except VendorError:
            continue
        if result.ok:
            return run
    raise AssertionError(f"no clean pull in {attempts} runs")


def cursor(engine: sa.Engine, stream: str) -> repo.CursorState:
    with engine.connect() as conn:
        return repo.get_cursor(conn, NAME, stream)


def connector_state(engine: sa.Engine, key: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return repo.get_state(conn, NAME, [key]).get(key, {})


def post_call(harness: CloseHarness, body: dict[str, Any]) -> dict[str, Any]:
    """Log a call through Close's API, as another integration would."""
    with httpx.Client(
        transport=EmulatorTransport(harness.emulator),
        base_url="https://api.close.com",
        auth=httpx.BasicAuth(CloseEmulator.DEMO_API_KEY, ""),
    ) as client:
        response = client.post("/api/v1/activity/call/", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())
