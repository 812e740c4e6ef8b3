"""Turning a configured connection into a live connector, through the registry only."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
from pydantic import SecretStr
from sqlalchemy.engine import Engine

import connectors
from connectors.base import Connector, ConnectorContext, JsonDict
from syncer import mapping, stopping
from syncer.config import CallsyncConfig
from syncer.http.ratelimit import PROCESS_PACERS, PacerRegistry
from syncer.identities import DatabaseIdentityCache
from syncer.store import repo
from syncer.tokens import DatabaseTokenStore


class DatabaseConnectorState:
    """``ConnectorState`` read from callsync's database (writes travel with pages)."""

    def __init__(self, engine: Engine, connection: str) -> None:
        self._engine = engine
        self._connection = connection

    def get(self, keys: Sequence[str]) -> dict[str, JsonDict]:
        with self._engine.connect() as conn:
            return repo.get_state(conn, self._connection, keys)


def build_connector(
    config: CallsyncConfig,
    name: str,
    engine: Engine,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    tables: dict[str, mapping.VendorTable] | None = None,
    pacers: PacerRegistry | None = None,
) -> Connector:
    """The connector of connection ``name``, wired to ``engine`` for state and OAuth tokens."""
    connection = config.connections[name]
    table = (tables or mapping.load_tables())[connection.kind]
    if connection.mapping is not None:
        table = table.with_overrides(connection.mapping)
    settings = connection.settings
    refresh = getattr(settings, "refresh_token", None)
    tokens = (
        DatabaseTokenStore(
            engine, name, refresh.get_secret_value(), connection.origin("refresh_token")
        )
        if isinstance(refresh, SecretStr)
        else None
    )
    context = ConnectorContext(
        name=name,
        settings=settings,
        table=table,
        phone_region=connection.phone_region or config.defaults.phone_region,
        state=DatabaseConnectorState(engine, name),
        identities=DatabaseIdentityCache(engine, name),
        tokens=tokens,
        transport=transport,
        # Waits (rate limits, backoff) end as soon as a stop is requested (syncer/stopping.py).
        sleep=sleep or stopping.sleep,
        pacers=pacers or PROCESS_PACERS,
    )
    dotted = connectors.entry(connection.kind).connector
    if dotted is None:
        raise LookupError(f"connector kind {connection.kind!r} cannot read calls")
    connector: Connector = connectors.load(dotted)(context)
    return connector
