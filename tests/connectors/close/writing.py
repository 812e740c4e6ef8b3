"""Helpers of the Close write tests: a transport that keeps what was sent, and short-cuts."""

from __future__ import annotations

import json
from typing import Any

import httpx
import sqlalchemy as sa

from connectors.base import Resolved, WriteOptions, Written
from connectors.close.connector import CloseConnector
from connectors.emulation import EmulatorTransport
from syncer.model import Call
from tests.connectors.close.harness import CloseHarness


class Recorder(httpx.BaseTransport):
    """The emulator's transport, keeping every request sent (method, path, JSON body)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.sent.append((request.method, request.url.path, json.loads(body) if body else None))
        return self.inner.handle_request(request)

    def bodies(self, method: str) -> list[Any]:
        return [body for sent_method, _, body in self.sent if sent_method == method]


def wired(
    harness: CloseHarness, engine: sa.Engine, **settings: Any
) -> tuple[CloseConnector, Recorder]:
    recorder = Recorder(EmulatorTransport(harness.emulator))
    return harness.connector(engine, transport=recorder, **settings), recorder


def resolved(connector: CloseConnector, call: Call, **options: bool) -> Resolved:
    result = connector.resolve(call, WriteOptions(**options))
    assert isinstance(result, Resolved), result
    return result


def write(connector: CloseConnector, call: Call) -> Written:
    return connector.create(call, call.call_uid, resolved(connector, call))
