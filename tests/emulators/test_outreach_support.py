"""Helpers shared by the Outreach emulator tests (no tests here).

``make()`` builds a seeded emulator on a ManualClock set after the world's last call, an
in-process httpx client, and an access token obtained the way callsync gets one: by spending
the demo refresh token at ``POST /oauth/token``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from connectors.emulation import EmulatorTransport, FaultPlan, ManualClock, StateDB, World
from connectors.outreach.emulator import OutreachEmulator

BASE = "https://api.outreach.io"
MEDIA = "application/vnd.api+json"
AFTER_WORLD = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the default world ends in late January
SINCE = "2026-01-01T00:00:00.000Z"


@dataclass
class Harness:
    emulator: OutreachEmulator
    clock: ManualClock
    http: httpx.Client
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": MEDIA}

    def get(self, path: str, params: Any = None, **extra: str) -> httpx.Response:
        return self.http.get(path, params=params, headers={**self.headers, **extra})

    def post_call(self, body: Any, params: Any = None) -> httpx.Response:
        return self.http.post(
            "/api/v2/calls", content=json.dumps(body), params=params, headers=self.headers
        )

    def walk(self, path: str, params: Any) -> list[dict[str, Any]]:
        """Every page of a list, following ``links.next`` verbatim."""
        pages = [self.get(path, params).json()]
        while "next" in pages[-1]["links"]:
            response = self.http.get(pages[-1]["links"]["next"], headers=self.headers)
            assert response.status_code == 200, response.text
            pages.append(response.json())
        return pages

    def token_request(self, **form: str) -> httpx.Response:
        defaults = {
            "client_id": OutreachEmulator.DEMO_CLIENT_ID,
            "client_secret": OutreachEmulator.DEMO_CLIENT_SECRET,
        }
        return self.http.post("/oauth/token", data={**defaults, **form})


def make(
    *,
    calls: int = 200,
    seed: bool = True,
    state: StateDB | None = None,
    faults: FaultPlan | None = None,
    **tunables: Any,
) -> Harness:
    clock = ManualClock(AFTER_WORLD)
    emulator = OutreachEmulator(state=state, clock=clock, faults=faults, **tunables)
    http = httpx.Client(transport=EmulatorTransport(emulator), base_url=BASE)
    harness = Harness(emulator, clock, http, "", "")
    if seed:
        emulator.seed_world(World(calls=calls))
        answer = harness.token_request(
            grant_type="refresh_token", refresh_token=OutreachEmulator.DEMO_REFRESH_TOKEN
        )
        assert answer.status_code == 200, answer.text
        harness.token = answer.json()["access_token"]
        harness.refresh_token = answer.json()["refresh_token"]
    return harness


def all_calls(harness: Harness) -> list[dict[str, Any]]:
    return list(harness.emulator.iter_calls())


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def decode_cursor(url: str) -> dict[str, Any]:
    after = dict(query_of(url))["page[after]"]
    return dict(json.loads(base64.b64decode(after)))


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body) == {"errors"}, body
    return list(body["errors"])


def call_body(prospect: int, user: int, **attributes: Any) -> dict[str, Any]:
    """The documented create example (doc §2.14) pointed at seeded records."""
    base = {
        "direction": "outbound",
        "outcome": "Answered",
        "from": "+14155550100",
        "to": "+14155550199",
        "dialedAt": "2025-10-06T16:30:08.000Z",
        "answeredAt": "2025-10-06T16:30:14.000Z",
        "completedAt": "2025-10-06T16:33:18.000Z",
        "note": "Logged from Amplemarket (call 0199ba5b-e387-7d61-8ae4-6ad9ce65f07b)",
        "recordingUrl": "https://recordings.example.com/call-123.mp3",
        "externalVendor": "Amplemarket",
        "vendorCallId": "0199ba5b-e387-7d61-8ae4-6ad9ce65f07b",
        "tags": ["Interested"],
    }
    return {
        "data": {
            "type": "call",
            "attributes": {**base, **attributes},
            "relationships": {
                "prospect": {"data": {"type": "prospect", "id": prospect}},
                "user": {"data": {"type": "user", "id": user}},
                "callDisposition": {"data": {"type": "callDisposition", "id": 1}},
                "callPurpose": {"data": {"type": "callPurpose", "id": 1}},
            },
        }
    }
