"""Helpers shared by the Amplemarket emulator tests (this module holds no tests).

Each test module declares its own small fixtures on top of these, so fixtures are never
imported across modules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.amplemarket.emulator import AmplemarketEmulator
from connectors.emulation import EmulatorTransport, ManualClock, World

BASE_URL = "https://api.amplemarket.com"
# After the seeded world's 20 days, so calls logged "now" are the newest.
NOW = datetime(2026, 2, 2, 12, 0, 0, tzinfo=UTC)
WORLD_CALLS = 400


def seeded(clock: ManualClock, world: World, **tunables: Any) -> AmplemarketEmulator:
    """An emulator filled from ``world``; tunables as the constructor takes them."""
    emu = AmplemarketEmulator(clock=clock, **tunables)
    emu.seed_world(world)
    return emu


def connect(emulator: AmplemarketEmulator, key: str | None = None) -> httpx.Client:
    headers = {"Accept": "application/json"}
    headers["Authorization"] = f"Bearer {key or emulator.DEMO_API_KEY}"
    return httpx.Client(transport=EmulatorTransport(emulator), base_url=BASE_URL, headers=headers)


def sweep(client: httpx.Client, href: str = "/calls?page[size]=100") -> list[dict[str, Any]]:
    """Every call, following ``_links.next.href`` verbatim until it disappears."""
    found: list[dict[str, Any]] = []
    next_href: str | None = href
    while next_href is not None:
        response = client.get(next_href)
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["calls"])
        next_href = body["_links"].get("next", {}).get("href")
    return found


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The first ``_errors`` entry, after checking the documented envelope."""
    body = response.json()
    assert set(body) == {"_errors", "object"}
    assert body["object"] == "error"
    first: dict[str, Any] = body["_errors"][0]
    return first


def seeded_user_ids(client: httpx.Client) -> list[str]:
    return [user["id"] for user in client.get("/users").json()["users"]]


def scheduled_task(client: httpx.Client, user_id: str) -> dict[str, Any]:
    tasks = client.get(
        "/tasks", params={"user_id": user_id, "status": "scheduled", "type": "phone_call"}
    ).json()["tasks"]
    task: dict[str, Any] = tasks[0]
    return task


def disposition(client: httpx.Client, slug: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        d for d in client.get("/calls/dispositions").json()["dispositions"] if d["slug"] == slug
    ]
    return found[0]


def call_body(user: str, task: str, **extra: Any) -> dict[str, Any]:
    """A valid POST /calls body for ``user`` and ``task`` (``extra`` overrides or adds keys)."""
    return {
        "from": "+14155550100",
        "to": "+1 646 200 0001",
        "duration": 184,
        "answered": True,
        "human": True,
        "task_id": task,
        "user_id": user,
        **extra,
    }
