"""The contract between the engine and a vendor connector, documented once.

A vendor kind contributes three things, registered by dotted path in ``connectors/__init__.py``:

- **settings**: a pydantic model (subclass of :class:`ConnectionSettings`) for the vendor-specific
  keys of a connection in the YAML config: credentials and tunables. Unknown keys are rejected.
  Secrets are ``SecretStr`` so they never print.
- **emulator**: a faithful local emulator of the vendor API (``connectors.emulation``), used by
  ``callsync demo``, the end-to-end tests and the benchmarks.
- **connector**: a :class:`Connector` subclass that reads calls (and, later, writes them).

Reading
-------
A connector reads one or more *streams* (``Connector.streams``). Each stream has a cursor in
callsync's database with two parts (:class:`Cursor`): ``completed``, the position the last whole
pull reached, and ``partial``, where an interrupted pull resumes. ``read(stream, cursor)`` yields
:class:`Page` objects, each with the raw vendor records of one response and the
:class:`Checkpoint` to store once those records are durably stored. The engine commits a page's
records and its checkpoint in **one transaction**, so a crash re-reads at most one page and a
cursor never passes data that is not stored. The last page of a pull carries
``Checkpoint.completed`` (the new completed cursor) and ``partial=None``.

Every raw record is turned into a canonical :class:`~syncer.model.Call` by ``to_call``; a record
that cannot be mapped raises :class:`~syncer.errors.MappingFailure` and is quarantined with its
reason while the rest of the page goes on. ``record_key`` names a record even when it cannot be
mapped. Connectors never touch the database: what they need between runs besides cursors lives
in :class:`ConnectorState`, and everything else comes through the :class:`ConnectorContext`.

Connectors must not hold a whole history in memory: stream pages, keep state small.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Protocol

import httpx
from pydantic import AnyHttpUrl, BaseModel, BeforeValidator, ConfigDict

from syncer.http.oauth import TokenStore
from syncer.http.ratelimit import PROCESS_PACERS, PacerRegistry
from syncer.mapping import VendorTable
from syncer.model import Call

JsonDict = dict[str, Any]

_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _parse_interval(value: object) -> object:
    if isinstance(value, str):
        found = _INTERVAL.match(value)
        if not found:
            raise ValueError("expected an interval like 30s, 5m, 2h or 1d")
        return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Interval = Annotated[timedelta, BeforeValidator(_parse_interval)]
"""A duration written the same way everywhere in the config: ``30s``, ``5m``, ``2h``, ``1d``
or a number of seconds."""


class ConnectionSettings(BaseModel):
    """Keys every connection accepts besides the engine's own (kind, schedule, mapping)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: AnyHttpUrl | None = None
    """Point the connection at a proxy or a local emulator instead of the vendor."""


@dataclass(frozen=True)
class Cursor:
    completed: JsonDict | None = None
    partial: JsonDict | None = None


@dataclass(frozen=True)
class Checkpoint:
    """What to store once a page is durably stored. ``completed=None`` keeps the stored one."""

    partial: JsonDict | None
    completed: JsonDict | None = None


@dataclass(frozen=True)
class Page:
    records: Sequence[JsonDict]
    checkpoint: Checkpoint
    deleted: Sequence[str] = ()
    """External ids the vendor reports as deleted (tombstoned in the store, never dropped)."""
    unseen_since: datetime | None = None
    """Set on the last page of a full sweep: every stored record of this connection not seen
    since this instant is gone from the vendor (APIs without deletion events)."""
    state: Mapping[str, JsonDict] = field(default_factory=dict)
    """Connector state to store in the same transaction as the page."""


class ConnectorState(Protocol):
    """Small keyed JSON facts a connector keeps between runs (read-only during a read; writes
    travel with the page that justifies them, in ``Page.state``)."""

    def get(self, keys: Sequence[str]) -> dict[str, JsonDict]: ...


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a connector gets from the engine."""

    name: str  # the connection's name in the config
    settings: ConnectionSettings
    table: VendorTable  # the vendor's mapping table with the connection's overrides
    phone_region: str
    state: ConnectorState
    tokens: TokenStore | None = None  # OAuth vendors only
    transport: httpx.BaseTransport | None = None  # tests and the demo reach emulators here
    sleep: Callable[[float], None] | None = None  # tests replace waiting
    pacers: PacerRegistry = PROCESS_PACERS  # one pacer per credential, shared process-wide
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class Connector(abc.ABC):
    """Base of every vendor connector. See the module docstring for the contract."""

    kind: ClassVar[str]
    streams: ClassVar[tuple[str, ...]] = ("calls",)

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    @abc.abstractmethod
    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        """Pages of records changed since ``cursor`` (resuming from ``cursor.partial``)."""

    @abc.abstractmethod
    def to_call(self, record: JsonDict) -> Call:
        """The canonical call of one raw record; raise ``MappingFailure`` if impossible."""

    @abc.abstractmethod
    def record_key(self, record: JsonDict) -> str:
        """A stable name for ``record`` (its vendor id), even when it cannot be mapped."""

    def check(self) -> None:  # noqa: B027 - optional: not every vendor has a cheap probe
        """Verify the credentials with the cheapest request the vendor offers."""

    def close(self) -> None:  # noqa: B027 - optional: connectors without clients have nothing
        """Release HTTP clients."""
