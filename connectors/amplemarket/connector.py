"""``AmplemarketConnector``: reads calls (``cursor`` has the strategy, ``records`` the mapping)
and logs them (``resolution`` finds user, contact and task; ``writer`` creates, finds and
compares; ``payload`` builds the body; ``recording`` streams dialer audio)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import structlog

from connectors.amplemarket.client import (
    VENDOR,
    AmplemarketClient,
    BearerAuth,
    base_url_of,
)
from connectors.amplemarket.cursor import Walk, plan
from connectors.amplemarket.identity import Directory
from connectors.amplemarket.recording import Recordings
from connectors.amplemarket.records import (
    SYSTEM,
    Disposition,
    MappingContext,
    record_key,
    to_call,
)
from connectors.amplemarket.resolution import Resolver
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.amplemarket.window import read_window as read_start_window
from connectors.amplemarket.writer import Writer
from connectors.base import (
    AccountLabel,
    Checkpoint,
    Connector,
    ConnectorContext,
    Cursor,
    JsonDict,
    Page,
    Parked,
    Resolved,
    WriteOptions,
    WriteSupport,
    Written,
)
from syncer.errors import AuthError, VendorError
from syncer.model import Call

log = structlog.get_logger("callsync.amplemarket")


def _wall_now() -> datetime:
    # The engine stamps ``last_seen_at`` with its own wall clock (syncer.store.repo), so a
    # sweep's ``unseen_since`` must come from that clock, not from ``context.clock``.
    return datetime.now(UTC)


class AmplemarketConnector(Connector):
    kind = "amplemarket"
    streams = ("calls",)
    # Logged calls are immutable and undeletable through the API (§1.8); audio goes by URL.
    write_support = WriteSupport(create=True, update=False, delete=False, recording_file=False)

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        if not isinstance(context.settings, AmplemarketSettings):
            raise TypeError(f"{context.name}: expected AmplemarketSettings")
        self.settings: AmplemarketSettings = context.settings
        self.client = AmplemarketClient.for_context(context, self.settings)
        # Account-defined dispositions, fetched once per instance (and once more if a call
        # names one created since), so labels and sequence actions are the account's own.
        self._dispositions: dict[str, Disposition] | None = None
        self._refreshed = False
        self._mapping = MappingContext(
            context.name, context.table, context.phone_region, self._disposition
        )
        directory = Directory(self.client, context.identities, self.settings.page_size)
        self._resolver = Resolver(directory)
        self._writer = Writer(
            self.client, directory, context.table, self.settings, self._account_dispositions
        )
        self._recordings = Recordings(
            context, self.settings, base_url_of(self.settings), BearerAuth(self.settings.api_key)
        )

    # --- reading -------------------------------------------------------------------------

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        if stream not in self.streams:
            raise ValueError(f"{VENDOR} has no stream {stream!r}")
        walk = plan(
            cursor,
            now=self.context.clock(),
            wall_now=_wall_now(),
            lookback=self.settings.lookback,
            sweep_interval=self.settings.sweep_interval,
        )
        log.info(
            "amplemarket.walk",
            connection=self.context.name,
            sweep=walk.sweep,
            resumed=walk.next_href is not None,
            start_date_from=None if walk.start_from is None else walk.start_from.isoformat(),
        )
        return self._walk(walk)

    def _walk(self, walk: Walk) -> Iterator[Page]:
        href, resumed = walk.next_href, walk.next_href is not None
        while True:
            try:
                page = self.client.list_calls(href, walk.first_params(self.settings.page_size))
            except VendorError as error:
                if not (resumed and _refused(error)):
                    raise
                # A stored href the API no longer accepts: walk the same window again.
                log.warning("amplemarket.resume_refused", status=error.status)
                href, resumed = None, False
                continue
            resumed = False
            self._prepare_dispositions(page.records)
            if page.next_href is None:
                done = Checkpoint(partial=None, completed=walk.completed())
                yield Page(page.records, done, unseen_since=walk.seen_since)
                return
            if page.next_href == href:
                raise VendorError(VENDOR, 200, f"`next` points at the same page: {href}")
            yield Page(page.records, Checkpoint(partial=walk.partial(page.next_href)))
            href = page.next_href

    def read_window(
        self, stream: str, since: datetime, until: datetime, cursor: JsonDict | None
    ) -> Iterator[Page]:
        if stream not in self.streams:
            raise ValueError(f"{VENDOR} has no stream {stream!r}")
        return read_start_window(
            self.client,
            since,
            until,
            cursor,
            page_size=self.settings.page_size,
            prepare=self._prepare_dispositions,
        )

    # --- mapping -------------------------------------------------------------------------

    def to_call(self, record: JsonDict) -> Call:
        return to_call(record, self._mapping)

    def record_key(self, record: JsonDict) -> str:
        return record_key(record)

    # --- dispositions --------------------------------------------------------------------

    def _prepare_dispositions(self, records: Sequence[JsonDict]) -> None:
        """Fetch the dispositions before the engine maps a page that needs them (so no HTTP
        happens inside the engine's page transaction)."""
        items: Sequence[object] = records  # the vendor may send anything in `calls`
        wanted = {
            r["disposition_id"]
            for r in items
            if isinstance(r, dict) and isinstance(r.get("disposition_id"), str)
        }
        if not wanted:
            return
        if self._dispositions is None:
            self._load_dispositions()
        elif not self._refreshed and wanted - self._dispositions.keys():
            self._refreshed = True
            self._load_dispositions()

    def _load_dispositions(self) -> None:
        found = (Disposition.from_raw(raw) for raw in self.client.dispositions())
        self._dispositions = {d.id: d for d in found if d is not None}

    def _disposition(self, disposition_id: str) -> Disposition | None:
        if self._dispositions is None:
            self._load_dispositions()
        assert self._dispositions is not None
        return self._dispositions.get(disposition_id)

    def _account_dispositions(self) -> list[Disposition]:
        if self._dispositions is None:
            self._load_dispositions()
        assert self._dispositions is not None
        return list(self._dispositions.values())

    # --- writing (see connectors.base "Writing") -------------------------------------------

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        return self._resolver.resolve(call, options)

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        return self._writer.create(call, marker, resolved)

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        return self._writer.find_by_marker(marker, call)

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        self._writer.update(remote_id, call, resolved)

    def delete(self, remote_id: str) -> None:
        raise NotImplementedError(
            "Amplemarket cannot delete logged calls through its API (§1.8), so a changed call "
            "cannot be re-created either: it would sit beside the old one"
        )

    def open_recording(self, call: Call) -> AbstractContextManager[Iterator[bytes]] | None:
        """The dialer's audio of one of this connection's calls; None for calls logged from
        outside (``external: true``: no downloadable file, §1.10) or without a recording."""
        source = call.source
        if source.system != SYSTEM or source.connection != self.context.name:
            return None
        if call.raw.get("external") is not False or not call.raw.get("recording_url"):
            return None
        return self._recordings.open(source.external_id)

    def account_labels(self) -> Sequence[AccountLabel]:
        found = (Disposition.from_raw(raw) for raw in self.client.dispositions())
        return [
            AccountLabel("disposition", d.id, d.name or "", d.action)
            for d in found
            if d is not None
        ]

    # --- housekeeping --------------------------------------------------------------------

    def check(self) -> None:
        self.client.account_info()

    def close(self) -> None:
        self.client.close()
        self._recordings.close()


def _refused(error: VendorError) -> bool:
    """A 4xx that says "this request is wrong", not "who are you" or "slow down"."""
    return 400 <= error.status < 500 and error.status != 429 and not isinstance(error, AuthError)
