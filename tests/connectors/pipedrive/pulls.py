"""Helpers the Pipedrive end-to-end tests share: pulling through the engine, reading the
store, and transport wrappers that act between two requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa

from syncer.pull import PullResult, pull
from syncer.store import repo
from tests.connectors.pipedrive.harness import NAME, PipedriveHarness, make_harness

LIST = "GET /v1/callLogs"
ONE_LOG = "GET /v1/callLogs/{id}"
ACTIVITIES = "GET /api/v2/activities"


def pulled(harness: PipedriveHarness, engine: sa.Engine, *, reset: bool = True) -> PullResult:
    if reset:
        harness.emulator.stats.reset()
    connector = harness.connector(engine)
    try:
        return pull(engine, connector)
    finally:
        connector.close()


def requests(harness: PipedriveHarness) -> dict[str, int]:
    return dict(harness.emulator.stats.by_route)


def seeded(engine: sa.Engine, calls: int, **options: Any) -> PipedriveHarness:
    """A company with ``calls`` calls, pulled once and settled."""
    harness = make_harness(**options)
    harness.seed(calls)
    harness.settle()
    result = pulled(harness, engine)
    assert result.ok, result.error
    harness.settle()
    return harness


def deleted_ids(engine: sa.Engine) -> set[str]:
    return repo_ids(engine, deleted=True)


def repo_ids(engine: sa.Engine, *, deleted: bool) -> set[str]:
    sources = repo.sources_t
    query = sa.select(sources.c.external_id).where(sources.c.connection == NAME)
    query = query.where(sources.c.deleted_at.is_not(None) if deleted else sa.true())
    with engine.connect() as conn:
        return {row.external_id for row in conn.execute(query)}


class Crash(Exception):
    """The process dies (as far as the pull can tell)."""


def crash() -> None:
    raise Crash


def after_requests(
    route: str, count: int, action: Callable[[], None]
) -> Callable[[httpx.BaseTransport], httpx.BaseTransport]:
    """A transport wrapper running ``action`` once, right after the ``count``-th request of
    ``route`` was answered (a crash, or a user acting in Pipedrive's UI meanwhile)."""
    seen = {"n": 0}
    method, _, prefix = route.partition(" ")

    class Wrapped(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self.inner.handle_request(request)
            path = request.url.path.removeprefix("/api")
            if request.method == method and path == prefix:
                seen["n"] += 1
                if seen["n"] == count:
                    action()
            return response

    return Wrapped


def set_log_field(harness: PipedriveHarness, log_id: str, **fields: Any) -> None:
    """Change a stored call log behind the API (what a vendor-side change would look like)."""
    store = harness.emulator.store
    log = store.call_log(log_id)
    assert log is not None
    store.call_logs.put(log_id, {**log, **fields}, owner=log["user_id"])
