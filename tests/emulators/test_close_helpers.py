"""Shared set-up for the Close emulator tests (no tests here).

Every test talks HTTP to an in-process ``CloseEmulator`` through ``EmulatorTransport`` with a
``ManualClock``; rate limits are generous unless a test is about them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.close.emulator import CloseEmulator
from connectors.emulation import EmulatorTransport, ManualClock, StateDB, World

API = "/api/v1"
ORIGIN = "https://api.close.com"
# The default world's calls fall between 2026-01-05 and ~2026-01-14: all inside the event log.
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
GENEROUS = dict.fromkeys(CloseEmulator.DEFAULT_RATE_LIMITS, 1_000_000)


def make_emulator(
    *, world: World | None = None, state: StateDB | None = None, **tunables: Any
) -> tuple[CloseEmulator, ManualClock]:
    clock = ManualClock(NOW)
    tunables.setdefault("rate_limits", GENEROUS)
    emulator = CloseEmulator(state=state, clock=clock, **tunables)
    if world is not None:
        emulator.seed_world(world)
    return emulator, clock


@contextmanager
def client_for(emulator: CloseEmulator, api_key: str | None = None) -> Iterator[httpx.Client]:
    key = emulator.DEMO_API_KEY if api_key is None else api_key
    with httpx.Client(
        transport=EmulatorTransport(emulator), base_url=ORIGIN, auth=(key, "")
    ) as client:
        yield client


def all_calls(client: httpx.Client, limit: int = 100, **params: Any) -> list[dict[str, Any]]:
    """Walk ``GET /activity/call/`` with ``_skip`` until ``has_more`` is false."""
    found: list[dict[str, Any]] = []
    while True:
        page = client.get(
            f"{API}/activity/call/", params={**params, "_limit": limit, "_skip": len(found)}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        found.extend(body["data"])
        if not body["has_more"]:
            return found


def first_lead(client: httpx.Client) -> dict[str, Any]:
    lead = client.get(f"{API}/lead/", params={"_limit": 1}).json()["data"][0]
    assert lead["contacts"], "seeded leads have contacts"
    return dict(lead)


def external_call_body(lead: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The create request of the vendor doc (§1.13), pointed at the emulator's own ids."""
    body = {
        "lead_id": lead["id"],
        "contact_id": lead["contacts"][0]["id"],
        "user_id": CloseEmulator.INTEGRATION_USER_ID,
        "direction": "outbound",
        "status": "completed",
        "duration": 153,
        "phone": "+16505551234",
        "activity_at": "2024-03-20T14:05:00+00:00",
        "note_html": "<body><p>Synced from Outreach (call 12345)</p></body>",
        "outcome_id": CloseEmulator.outcome_id("Interested"),
        "recording_url": "https://recordings.example.com/12345.mp3",
    }
    body.update(overrides)
    return body
