"""Replaying quarantined records: map their stored raw payloads again with the current mapping
inputs, without asking the vendor anything.

A record the read path could not map (an unknown vendor value, a malformed field) is kept in
the ``quarantine`` table with its raw payload. Once the mapping inputs change (a mapping file,
the connection's ``mapping:`` overrides, its phone region, callsync itself), it may map: the
replay maps it with a connector built from the same context whose every request is refused
before it leaves the machine (:func:`offline_copy`). Look-ups a connector degrades gracefully
(Close's users and outcomes, Outreach's users) yield a call stored ``incomplete``, which the
next pull re-labels as it does after a failed look-up; a record that cannot be mapped at all
without a request stays quarantined, its reason saying which request it needs.

Records that map are stored exactly as a pull stores them (``syncer/records.py``, one
transaction per batch) and their rows are resolved, so the next push routes them; the others
keep their (possibly new) reason and count one more attempt. Every row remembers the
:func:`mapping_fingerprint` it was last mapped under, and each pull first replays the rows of
its connection whose fingerprint is not the current one (:func:`retry_changed`): once per
change. A lease per connection keeps two replays of one connection apart.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
import structlog
from sqlalchemy.engine import Connection, Engine

from connectors.base import Connector
from syncer.config import CallsyncConfig
from syncer.connections import build_connector
from syncer.errors import TransientError
from syncer.heartbeat import LEASE_TTL, held_lease
from syncer.http.oauth import IssuedToken, Spend
from syncer.http.ratelimit import PacerRegistry
from syncer.mapping import VendorTable
from syncer.model import Call
from syncer.records import map_one, store_mapped
from syncer.store import leases, quarantined, repo
from syncer.store.leases import Fence, LeaseBusyError
from syncer.store.quarantined import Filters, OpenRecord

log = structlog.get_logger("callsync.quarantine")

BATCH = 200  # quarantined records mapped per transaction
UNEVALUATED = "not re-mapped without a vendor request ("


# --- what the mapping depends on -----------------------------------------------------------


def mapping_fingerprint(connector: Connector) -> str:
    """A digest of everything that decides how ``connector`` maps a raw record, and nothing
    else, so a quarantined record is retried exactly when it might map differently:

    - the connector kind: another vendor's code reads the same payload differently;
    - callsync's version: the mapping code itself (an upgrade may read what the last could not);
    - the read side of the connection's effective mapping table, i.e. ``mappings/<kind>.yaml``
      with the connection's ``mapping:`` overrides merged (each dimension's vendor field, its
      vendor values and their canonical values, or why reading it is unsupported) and the
      ``outcome_by_disposition`` labels. Write maps and lossy notes decide what callsync
      writes, not how a record read maps, and are left out;
    - the phone region: numbers written without a country code are read in it;
    - the settings the connector declares in ``Connector.mapping_settings`` (those its
      ``to_call`` reads); credentials and read or write tunables do not change a mapping.
    """
    context = connector.context
    settings = context.settings
    wanted = set(connector.mapping_settings)
    inputs = {
        "kind": connector.kind,
        "callsync": _callsync_version(),
        "table": _read_side(context.table),
        "phone_region": context.phone_region,
        "settings": settings.model_dump(mode="json", include=wanted) if wanted else {},
    }
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_side(table: VendorTable) -> dict[str, Any]:
    dimensions = {
        name: {
            "field": dim.field,
            "values": list(dim.values),
            "read": dim.read if isinstance(dim.read, str) else dict(dim.read),
        }
        for name, dim in table.dimensions.items()
    }
    return {"system": table.system, "dimensions": dimensions, "labels": dict(table.dispositions)}


@functools.cache  # asking the package metadata costs milliseconds, and a page is stored often
def _callsync_version() -> str:
    try:
        return version("callsync")
    except PackageNotFoundError:  # a checkout that is not installed
        return "0+unknown"


# --- a connector that sends nothing ---------------------------------------------------------


class OfflineRequestError(TransientError):
    """A request the replay did not send: mapping the record needs it from the vendor."""

    def __init__(self, vendor: str, request: str) -> None:
        super().__init__(f"{vendor} {request} not sent: a quarantine replay sends no request")
        self.vendor = vendor
        self.request = request


class _RefusingTransport(httpx.BaseTransport):
    """Fails every request before it leaves the machine."""

    def __init__(self, vendor: str) -> None:
        self._vendor = vendor

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise OfflineRequestError(self._vendor, f"{request.method} {request.url.path}")


class _NoTokens:
    """An OAuth token store that never refreshes (a refresh would spend the stored token)."""

    def __init__(self, vendor: str) -> None:
        self._vendor = vendor

    def current(self) -> IssuedToken:
        return IssuedToken("offline", "offline", datetime(9999, 1, 1, tzinfo=UTC))

    def rotate(self, spend: Spend, stale_access_token: str | None) -> IssuedToken:
        raise OfflineRequestError(self._vendor, "token refresh")


def offline_copy(connector: Connector) -> Connector:
    """A connector like ``connector`` (same table, settings, phone region, state and caches in
    the database) whose requests all fail with :class:`OfflineRequestError`, on pacers of its
    own (the process's budget of requests is not touched) and without waits."""
    context = connector.context
    offline = replace(
        context,
        transport=_RefusingTransport(connector.kind),
        tokens=None if context.tokens is None else _NoTokens(connector.kind),
        pacers=PacerRegistry(sleep=_no_wait),
        sleep=_no_wait,
    )
    copy: Connector = type(connector)(offline)
    return copy


def _no_wait(_seconds: float) -> None:
    return None


# --- the replay -----------------------------------------------------------------------------


@dataclass
class RetryResult:
    connection: str
    retried: int = 0
    mapped: int = 0
    still: Counter[str] = field(default_factory=Counter)  # reason -> records still quarantined
    busy: str | None = None  # who else replays this connection's quarantine (nothing done)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "retried": self.retried,
            "mapped": self.mapped,
            "still_quarantined": dict(self.still),
            "busy": self.busy,
        }


def open_records(engine: Engine, filters: Filters) -> list[OpenRecord]:
    """The unresolved quarantined records ``filters`` select, oldest first."""
    with engine.connect() as conn:
        return quarantined.open_records(conn, filters)


def retry_changed(engine: Engine, connector: Connector) -> RetryResult:
    """What a pull runs first: replay the rows of its connection quarantined under other
    mapping inputs than the current ones (each change is replayed once)."""
    result = retry(engine, connector, changed_only=True)
    if result.retried:
        log.info("quarantine.replayed", **result.as_dict())
    return result


def retry(
    engine: Engine,
    connector: Connector,
    *,
    reason: str | None = None,
    changed_only: bool = False,
    owner: str | None = None,
) -> RetryResult:
    """Map the open quarantined records of ``connector``'s connection again (those whose
    reason contains ``reason``; with ``changed_only``, those last mapped under other inputs)."""
    name = connector.context.name
    fingerprint = mapping_fingerprint(connector)
    filters = Filters(name, reason, fingerprint if changed_only else None)
    result = RetryResult(name)
    with engine.connect() as conn:
        if not quarantined.open_records(conn, filters, limit=1):
            return result  # the usual pull: no lease taken, no connector built
    try:
        with held_lease(engine, f"quarantine:{name}", owner, LEASE_TTL) as fence:
            mapper = offline_copy(connector)
            try:
                _replay(engine, mapper, filters, fingerprint, fence, result)
            finally:
                mapper.close()
    except LeaseBusyError as busy:
        result.busy = busy.holder.describe() if busy.holder else "another run"
    return result


def retry_configured(
    config: CallsyncConfig, engine: Engine, names: Sequence[str], reason: str | None = None
) -> list[RetryResult]:
    """``callsync quarantine retry``: replay the open rows of each connection in ``names``."""
    results = []
    for name in names:
        if not open_records(engine, Filters(name, reason)):
            results.append(RetryResult(name))
            continue
        connector = build_connector(config, name, engine)
        try:
            results.append(retry(engine, connector, reason=reason))
        finally:
            connector.close()
    return results


def _replay(
    engine: Engine,
    mapper: Connector,
    filters: Filters,
    fingerprint: str,
    fence: Fence,
    result: RetryResult,
) -> None:
    after = 0
    while True:
        with engine.connect() as conn:
            batch = quarantined.open_records(conn, filters, after_id=after, limit=BATCH)
        if not batch:
            return
        after = batch[-1].id
        # Mapped outside the write transaction, as a pull maps before it stores.
        outcomes = [(record, _map(mapper, record)) for record in batch]
        with engine.begin() as conn:
            leases.check(conn, fence)
            _store_batch(conn, mapper, outcomes, fingerprint, result)


def _map(mapper: Connector, record: OpenRecord) -> Call | str:
    try:
        return map_one(mapper, record.raw)
    except OfflineRequestError as refused:
        return unevaluated(record.reason, refused.request)


def unevaluated(previous: str, request: str) -> str:
    """The reason of a record whose mapping needs ``request``: the reason it was quarantined
    for is kept (it was not re-evaluated), the request named."""
    original = previous.split("): ", 1)[-1] if previous.startswith(UNEVALUATED) else previous
    return f"{UNEVALUATED}{request} needed): {original}"


def _store_batch(
    conn: Connection,
    mapper: Connector,
    outcomes: Sequence[tuple[OpenRecord, Call | str]],
    fingerprint: str,
    result: RetryResult,
) -> None:
    calls: dict[str, Call] = {}
    record_of: dict[str, OpenRecord] = {}
    failures: list[tuple[OpenRecord, str]] = []
    for record, mapped in outcomes:
        if isinstance(mapped, str):
            failures.append((record, mapped))
        else:
            calls[mapped.call_uid] = mapped
            record_of[mapped.source.external_id] = record
    stored = store_mapped(conn, mapper, list(calls.values()))
    failures += [(record_of[item.record_key], item.reason) for item in stored.held]
    resolved = [record_of[call.source.external_id] for call in stored.calls]
    name = mapper.context.name
    repo.resolve_quarantined(conn, name, [record.record_key for record in resolved])
    quarantined.stamp(conn, [record.id for record in resolved], fingerprint)
    quarantined.record_failures(conn, [(r.id, why) for r, why in failures], fingerprint)
    result.retried += len(outcomes)
    result.mapped += len(resolved)
    result.still.update(why for _, why in failures)
