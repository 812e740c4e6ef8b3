"""The Outreach connector: reads calls with the window strategy of ``cursor``.

``client`` speaks HTTP (OAuth, pagination, rate limits), ``cursor`` decides what to ask,
``records`` maps answers, ``labels`` names dispositions and purposes. See ``cursor`` for why a
pull cannot miss a call and what it costs.

Writing: ``identity`` resolves the user, the prospect and the configured labels, ``payload``
builds the ``POST /calls`` body, ``writer`` creates, finds by marker, compares and deletes.
Outreach calls cannot be changed in place (no PATCH), so ``write_support.update`` is False.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

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
from connectors.outreach.client import ListPage, OutreachClient
from connectors.outreach.cursor import Window, plan
from connectors.outreach.identity import IdentityResolver
from connectors.outreach.labels import LabelCatalog
from connectors.outreach.payload import note_text
from connectors.outreach.records import map_call, record_key
from connectors.outreach.settings import MAX_PAGE_SIZE, OutreachSettings
from connectors.outreach.users import UserDirectory, user_id
from connectors.outreach.window import read_window as read_created_window
from connectors.outreach.writer import CallWriter
from syncer.errors import VendorError
from syncer.model import Call

CALLS = "calls"
# Outreach's own binary outcome: fixed values, not account-defined (doc §2.4).
OUTCOMES = ("Answered", "Not Answered")


def wall_clock() -> datetime:
    """The store's clock: ``Page.unseen_since`` is compared with when records were stored."""
    return datetime.now(UTC)


class OutreachConnector(Connector):
    kind = "outreach"
    streams = (CALLS,)
    write_support = WriteSupport(create=True, update=False, delete=True, recording_file=False)
    # The note reads back as sent (cut at 65,535 characters: ``read_back``); a rep may still
    # edit it in Outreach, which callsync itself cannot. Not the outcome: it is written as
    # Answered / Not Answered plus a disposition, many canonical outcomes to one; nor the
    # times or duration (Outreach derives the duration from them).
    editable = ("note",)

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        if not isinstance(context.settings, OutreachSettings):
            raise TypeError("OutreachConnector needs OutreachSettings")
        self.settings = context.settings
        self.client = OutreachClient(context, self.settings)
        self.labels = LabelCatalog(self._collection)
        self.users = UserDirectory(self._users)
        self.identities = IdentityResolver(
            self.client, context.identities, self.labels, self.settings, context.phone_region
        )
        self.writer = CallWriter(self.client, self.identities, context.table, self.settings)

    def read_back(self, values: Mapping[str, Any]) -> dict[str, Any]:
        back = dict(values)
        if "note" in back:
            back["note"] = note_text(back["note"])
        return back

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        if stream != CALLS:
            raise ValueError(f"outreach has no stream {stream!r}")
        if cursor.partial is not None:
            window = Window.from_json(cursor.partial["window"])
            yield from self._walk(window, str(cursor.partial["next"]))
            return
        planned = plan(cursor.completed, self.settings, self.context.clock(), wall_clock())
        if planned is None:  # the cursor is ahead of what may be read: no request
            yield Page([], Checkpoint(partial=None, completed=cursor.completed))
            return
        yield from self._walk(planned, None)

    def read_window(
        self, stream: str, since: datetime, until: datetime, cursor: JsonDict | None
    ) -> Iterator[Page]:
        if stream != CALLS:
            raise ValueError(f"outreach has no stream {stream!r}")
        return read_created_window(
            self.client,
            since,
            until,
            cursor,
            page_size=self.settings.page_size,
            prepare=self._prepare,
        )

    def _walk(self, window: Window, link: str | None) -> Iterator[Page]:
        page = self._resume(window, link) if link else self._first(window)
        while page.next_link is not None:
            self._prepare(page.records)
            partial = {"window": window.to_json(), "next": page.next_link}
            yield Page(page.records, Checkpoint(partial=partial))
            previous, page = page.next_link, self.client.next_page(CALLS, page.next_link)
            if page.next_link == previous:
                raise VendorError("outreach", 200, "links.next repeats itself")
        self._prepare(page.records)
        done = Checkpoint(partial=None, completed=window.done.to_json())
        yield Page(page.records, done, unseen_since=window.sweep_started)

    def _first(self, window: Window) -> ListPage:
        return self.client.first_page(CALLS, window.query(self.settings.page_size))

    def _resume(self, window: Window, link: str) -> ListPage:
        try:
            return self.client.next_page(CALLS, link)
        except VendorError as error:
            if error.status not in (400, 404, 422):
                raise
            # The stored page cursor is refused (expired?): walk the window again from its start.
            return self._first(window)

    def _prepare(self, records: Sequence[JsonDict]) -> None:
        """Everything the records name by id only, looked up in bulk before they are mapped."""
        self.labels.prepare(records)
        self.users.prepare(records)

    def _users(self, params: Sequence[tuple[str, str]]) -> Iterator[JsonDict]:
        return self.client.iter_all("users", params)

    def _collection(self, path: str) -> Iterator[JsonDict]:
        params = [("count", "false"), ("page[size]", str(MAX_PAGE_SIZE))]
        return self.client.iter_all(path, params)

    def to_call(self, record: JsonDict) -> Call:
        return map_call(record, self.context, self.labels, self.users)

    def record_key(self, record: JsonDict) -> str:
        return record_key(record)

    def incomplete(self, record: JsonDict) -> str | None:
        """A call whose rep the failed users look-up would have named lacks the rep's email;
        the engine re-maps it from its stored payload on a later pull."""
        ident = user_id(record)
        if ident is None or not self.users.failed or self.users.user(ident) is not None:
            return None
        included = record.get("included")
        if any(
            isinstance(item, dict) and item.get("type") == "user" and str(item.get("id")) == ident
            for item in (included if isinstance(included, list) else ())
        ):
            return None
        return f"Outreach users look-up failed: e-mail of user {ident} unknown for now"

    def check(self) -> None:
        """One cheap authenticated request: the first call, if any (needs ``calls.read``)."""
        self.client.first_page(CALLS, [("count", "false"), ("page[size]", "1")])

    def close(self) -> None:
        self.client.close()

    # --- writing ----------------------------------------------------------------------------

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        return self.identities.resolve(call, options)

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        return self.writer.create(call, marker, resolved)

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        return self.writer.find_by_marker(marker, call)

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        self.writer.update(remote_id, call, resolved)

    def delete(self, remote_id: str) -> None:
        self.writer.delete(remote_id)

    def account_labels(self) -> Sequence[AccountLabel]:
        """The org's dispositions (detail: their own outcome), purposes, and the two fixed
        outcomes."""
        labels = [
            AccountLabel("disposition", entry.id, entry.name or "", entry.outcome)
            for entry in self.labels.entries("callDisposition")
        ]
        labels += [AccountLabel("outcome", value, value, "fixed by Outreach") for value in OUTCOMES]
        labels += [
            AccountLabel("purpose", entry.id, entry.name or "")
            for entry in self.labels.entries("callPurpose")
        ]
        return labels
