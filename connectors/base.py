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
Quarantined records are mapped again later from their stored payload by a connector built from
the same context whose requests all fail (``syncer/quarantine.py``): a look-up ``to_call`` makes
is refused with a :class:`~syncer.errors.TransientError`, like a directory that is down.

Connectors must not hold a whole history in memory: stream pages, keep state small.

Reading a time window (backfill)
--------------------------------
``read_window(stream, since, until, cursor)`` (optional; streams in ``window_streams``) yields
the pages of the calls that *happened* in ``[since, until)``, using the vendor's own time filter
so no request is spent outside the window. ``cursor`` is the ``Checkpoint.partial`` of the last
page stored for this very window (None: from its start); every page's ``partial`` says where to
resume, and the last page of the window has ``partial=None``. ``completed`` is ignored and
``unseen_since`` must stay None: a window sees part of the history, so it proves no deletion.
A connector whose vendor cannot filter calls by time sets ``window_filter = False``: the engine
then asks for one window covering the whole range (one walk over the list, filtered on our side
by :func:`started_within`) instead of walking the list once per window.

Writing
-------
A connector that can log calls declares what it supports in ``write_support`` and implements
the write methods. The engine owns *exactly once*: before any request it records the intent in
its ledger; it calls ``create`` once; if the outcome is unknown (the connection broke after the
request left: :class:`~syncer.errors.AmbiguousWriteError`), it never resends blindly but asks
``find_by_marker`` later and adopts what it finds. So every created record must carry the
deterministic ``marker`` (derived from the canonical call) somewhere the connector can search
for it, and ``create`` must never retry a POST itself (``VendorClient`` does not).

1. ``resolve(call, options)`` finds everything the target needs to hold the call: the user (by
   email), the person called (by E.164 number, then email), and the vendor's extra links (an
   Amplemarket task, a Pipedrive deal or lead). It returns :class:`Resolved` with the vendor's
   own ids, or :class:`Parked` with a reason (and candidates when ambiguous): never guess, never
   log one call against several people. Lookups go through ``context.identities`` so results
   are cached in callsync's database.
2. ``create(call, marker, resolved)`` -> :class:`Written` (the remote id).
3. ``update(remote_id, call, resolved)`` where ``write_support.update``; otherwise raise
   :class:`CannotUpdate` naming the field that differs; the engine reports it, and deletes and
   recreates only when the route opts in (``delete``).
4. ``find_by_marker(marker, call)`` -> remote id or None.
5. ``attach_recording(remote_id, call, chunks, content_type)`` for targets that take a file
   (``write_support.recording_file``); ``open_recording(call)`` on the source side streams the
   audio without holding it in memory.
6. ``account_labels()`` lists the account's dispositions/outcomes/purposes for
   ``callsync mappings show``.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
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


def started_within(
    records: Iterable[JsonDict],
    since: datetime,
    until: datetime,
    start_of: Callable[[JsonDict], datetime | None],
) -> list[JsonDict]:
    """The records whose start lies in ``[since, until)``, for vendors whose time filter is
    coarser than ours or absent. A record whose start cannot be read is kept: the engine maps
    it and quarantines it with its reason rather than dropping it unseen."""
    kept = []
    for record in records:
        try:
            start = start_of(record)
        except (KeyError, TypeError, ValueError):
            start = None
        if start is None or since <= start < until:
            kept.append(record)
    return kept


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


@dataclass(frozen=True)
class WriteSupport:
    """What a target accepts, as data (the engine plans with it)."""

    create: bool = False
    update: bool = False  # in place; otherwise a changed call is reported (or recreated)
    delete: bool = False
    recording_file: bool = False  # takes an uploaded audio file (others take a URL or nothing)


@dataclass(frozen=True)
class WriteOptions:
    """Per-route choices (config ``routes[].write``)."""

    create_missing_contacts: bool = False
    recreate_on_change: bool = False


@dataclass(frozen=True)
class Resolved:
    """The target's own ids for what the call hangs on (user, person, task, deal, ...)."""

    links: Mapping[str, str | int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Parked:
    """The call cannot be written yet: ``reason`` says why, in words an admin acts on."""

    reason: str
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Written:
    remote_id: str


@dataclass(frozen=True)
class AccountLabel:
    """One account-defined category as the vendor returns it."""

    kind: str  # "disposition" | "outcome" | "purpose"
    id: str
    label: str
    detail: str | None = None  # e.g. an Amplemarket disposition's action


class CannotUpdate(Exception):
    """The target cannot change ``field`` of an existing record in place."""

    def __init__(self, field: str, detail: str = "") -> None:
        super().__init__(f"cannot update {field} in place" + (f": {detail}" if detail else ""))
        self.field = field


class IdentityCache(Protocol):
    """Look-up results (users, people, tasks) cached in callsync's database."""

    def get(self, kind: str, key: str) -> JsonDict | None: ...

    def put(self, kind: str, key: str, value: JsonDict) -> None: ...


COVERAGE_STATE_KEY = "coverage"
"""The connector-state key under which a connector reports what the vendor's API does not let
it read (``{"not_covered": ["...", ...]}``, one sentence each), sent with a pull's first page;
``callsync status`` shows it."""


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
    identities: IdentityCache | None = None  # the write path's look-up cache
    tokens: TokenStore | None = None  # OAuth vendors only
    transport: httpx.BaseTransport | None = None  # tests and the demo reach emulators here
    sleep: Callable[[float], None] | None = None  # tests replace waiting
    pacers: PacerRegistry = PROCESS_PACERS  # one pacer per credential, shared process-wide
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class Connector(abc.ABC):
    """Base of every vendor connector. See the module docstring for the contract."""

    kind: ClassVar[str]
    streams: ClassVar[tuple[str, ...]] = ("calls",)
    write_support: ClassVar[WriteSupport] = WriteSupport()
    window_streams: ClassVar[tuple[str, ...]] = ("calls",)  # what ``read_window`` serves
    window_filter: ClassVar[bool] = True  # the vendor filters by time (else: one window)
    # Settings ``to_call`` reads: part of the mapping inputs, so changing one re-maps the
    # connection's quarantined records (``syncer/quarantine.py``). None so far: mapping reads
    # the context's table and phone region only.
    mapping_settings: ClassVar[tuple[str, ...]] = ()
    # ``resolve`` logs the call against the person ``call.contact.ids[kind]`` names when that
    # person is one of several on the number: so a person's choice among the candidates of a
    # parked call (``callsync review``) can be handed in. False: the vendor's rules decide.
    takes_chosen_person: ClassVar[bool] = False
    # Canonical fields this vendor reads back exactly as written (after ``read_back``): a pull
    # that finds one differing on callsync's copy found a rep's edit (``syncer/edits.py``). A
    # field that passes through a lossy vocabulary or rounding stays out, or its read-back would
    # look like an edit, and an edit of it could not be told from a mapping round trip.
    editable: ClassVar[tuple[str, ...]] = ()
    # ``read``'s pages may be fetched one ahead, in another thread, while the engine maps and
    # stores the previous one (``syncer/readahead.py``): only for a read path that shares no
    # unguarded state with ``to_call`` and needs nothing the engine stores with a page.
    reads_ahead: ClassVar[bool] = False

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    def read_back(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (JSON values of ``editable`` fields, as written) as the read path gives
        them back from a copy nobody edited (a vendor that reformats a note says how here)."""
        return dict(values)

    @abc.abstractmethod
    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        """Pages of records changed since ``cursor`` (resuming from ``cursor.partial``)."""

    @abc.abstractmethod
    def to_call(self, record: JsonDict) -> Call:
        """The canonical call of one raw record; raise ``MappingFailure`` if impossible."""

    @abc.abstractmethod
    def record_key(self, record: JsonDict) -> str:
        """A stable name for ``record`` (its vendor id), even when it cannot be mapped."""

    def incomplete(self, record: JsonDict) -> str | None:
        """Why the call ``to_call`` just made of ``record`` lacks a label that a failed look-up
        would have given (None: complete). The engine re-maps such records on later pulls."""
        return None

    def read_window(
        self, stream: str, since: datetime, until: datetime, cursor: JsonDict | None
    ) -> Iterator[Page]:
        """Pages of the calls that happened in ``[since, until)`` (see "Reading a time window")."""
        raise NotImplementedError(f"{self.kind} cannot read a time window")

    def check(self) -> None:  # noqa: B027 - optional: not every vendor has a cheap probe
        """Verify the credentials with the cheapest request the vendor offers."""

    def close(self) -> None:  # noqa: B027 - optional: connectors without clients have nothing
        """Release HTTP clients."""

    # --- writing (see "Writing" in the module docstring) -----------------------------------

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        raise NotImplementedError(f"{self.kind} cannot write calls")

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        raise NotImplementedError(f"{self.kind} cannot write calls")

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        raise NotImplementedError(f"{self.kind} cannot write calls")

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        raise CannotUpdate("call", f"{self.kind} records cannot be changed through the API")

    def delete(self, remote_id: str) -> None:
        raise NotImplementedError(f"{self.kind} cannot delete calls")

    def attach_recording(
        self, remote_id: str, call: Call, chunks: Iterator[bytes], content_type: str
    ) -> None:
        raise NotImplementedError(f"{self.kind} takes no recording files")

    def refuses_recording(self, remote_id: str) -> str | None:
        """Why the target will not take a recording for the record ``remote_id`` (a rule of
        the vendor, known without a request), or None. Asked before the source's recording is
        opened, so no download (some are paced per hour) is spent on a file nobody takes."""
        return None

    def open_recording(self, call: Call) -> AbstractContextManager[Iterator[bytes]] | None:
        """Stream this source's recording of ``call`` (None: use ``call.recording_url``)."""
        return None

    def account_labels(self) -> Sequence[AccountLabel]:
        return ()
