"""The Close connector's read path (vendor facts: shared/vendor-apis/close-pipedrive.md §1).

Close lists calls by offset only, has no ``date_updated`` filter on calls, caps ``_skip``, and
reports edits and deletions in an event log kept for 30 days (§1.5, §1.8, gotchas f and h).
So the connector reads two streams with separate cursors (§1.9):

``calls`` (``calls.py``, ``windows.py``)
    Every call by ``date_created`` window ``(last end, now - settle_delay]``, walked with
    ``_skip`` and ``_limit`` = the max page (100), split when it would pass the ``_skip`` cap,
    with overlapping pages so deletions during a walk cannot skip a call. In-progress calls are
    re-read until they end. Full pull: about N/99 requests + 1 cap probe + 1 outcome fetch;
    idle poll: 1 request (an empty window).
``call_events`` (``events.py``)
    ``updated``/``created``/``deleted`` events since the last poll minus a 5-minute rescan;
    changed calls are re-read by ``id__in``, deleted ones tombstoned, backdated creations
    caught. A gap over the log's 30 days triggers a full re-scan with deletion inference.
    Idle poll: one request per action (3).

Records map through ``records.py``; labels of custom outcomes (``outcome_id``) come from
``GET /outcome/`` and reps' e-mails from ``GET /user/``, each once per connector instance,
fetched before the first page that has calls (idle polls never fetch them). Either failing
(404, 5xx, ...) never stops the read: calls are mapped without that label and reported
``incomplete``, and the engine re-maps their stored payloads on a later run
(``connectors/lookups.py``, ``syncer.pull.relabel``). HTTP, auth and rate limits: ``client.py``.

Writing (issue 5): ``resolution.py`` + ``identity.py`` find the user, lead and contact (cached
in ``context.identities``), ``outbound.py`` builds the ``POST /activity/call/`` body and
``writer.py`` creates, finds by marker (``marker.py``), updates in place and deletes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import (
    AccountLabel,
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
from connectors.close import records
from connectors.close.calls import CallsStream
from connectors.close.client import CloseApi
from connectors.close.events import EventStream
from connectors.close.identity import Directory
from connectors.close.marker import NIL_MARKER, split_marker, with_marker
from connectors.close.resolution import Resolver
from connectors.close.settings import CloseSettings
from connectors.close.writer import CallWriter
from connectors.lookups import Lookup
from syncer.model import Call


@dataclass(frozen=True)
class Outcomes:
    """The account's custom outcomes (``GET /outcome/``) and their names by id."""

    records: list[JsonDict]
    names: dict[str, str]


class CloseConnector(Connector):
    kind = "close"
    streams = ("calls", "call_events")
    write_support = WriteSupport(create=True, update=True, delete=True, recording_file=False)
    # The note reads back as written (the marker trailer is stripped again). Not the outcome:
    # it is written as status + custom outcome but read from the (read-only) disposition; nor
    # the duration or direction (Close's VoIP owns them) or the call method (reads "external").
    editable = ("note",)
    takes_chosen_person = True  # contact.ids["close"] (``resolution.decide``)
    # Both streams read their stored facts once, when they start, and keep them in the
    # generator; the outcome labels are fetched before the first page is handed over, and the
    # user e-mails only by ``to_call``: nothing the reader shares with the mapping is unguarded.
    reads_ahead = True

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        if not isinstance(context.settings, CloseSettings):
            raise TypeError(f"close needs CloseSettings, got {type(context.settings).__name__}")
        self.settings = context.settings
        self.api = CloseApi(context, self.settings)
        self._users = Lookup("GET /user/", self._fetch_user_emails)
        self._outcomes = Lookup("GET /outcome/", self._fetch_outcomes)
        self._calls = CallsStream(self.api, self.settings, context.clock, context.state)
        self._events = EventStream(self.api, self.settings, context.clock, context.state)
        directory = Directory(
            self.api, context.identities, context.clock, self.settings.identity_miss_seconds
        )
        self._resolver = Resolver(
            directory, self.settings, context.table, context.phone_region, self._outcome_ids
        )
        self._writer = CallWriter(self.api, self.settings, context.table, context.phone_region)

    def read_back(self, values: Mapping[str, Any]) -> dict[str, Any]:
        back = dict(values)
        if "note" in back:  # the note is sent with the marker trailer the read path strips
            back["note"] = split_marker(with_marker(back["note"], NIL_MARKER))[0]
        return back

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        if stream == "calls":
            pages = self._calls.read(cursor)
        elif stream == "call_events":
            pages = self._events.read(cursor)
        else:
            raise ValueError(f"close has no stream {stream!r}; streams: {self.streams}")
        return self._labelled(pages)

    def read_window(
        self, stream: str, since: datetime, until: datetime, cursor: JsonDict | None
    ) -> Iterator[Page]:
        if stream != "calls":
            raise ValueError(f"close reads windows of calls only, not {stream!r}")
        return self._labelled(self._calls.read_window(since, until, cursor))

    def _labelled(self, pages: Iterator[Page]) -> Iterator[Page]:
        # Fetch outcome labels before the engine maps the first calls (users are fetched by the
        # first to_call); a failed look-up only degrades labels.
        for page in pages:
            if page.records:
                self._outcomes.get()
            yield page

    def outcome_labels(self) -> dict[str, str]:
        """Outcome names by id, fetched once per connector instance (§1.7); the write path's
        view, which raises what ``GET /outcome/`` met when it failed."""
        return self._outcomes.require().names

    def _fetch_outcomes(self) -> Outcomes:
        found = [o for o in self.api.outcome_records() if o.get("id")]
        return Outcomes(found, {str(o["id"]): str(o.get("name") or "") for o in found})

    def _outcome_ids(self) -> dict[str, str]:
        """Outcome ids by name (case and spacing ignored), for setting ``outcomes``."""
        return {
            " ".join(name.split()).casefold(): outcome_id
            for outcome_id, name in self.outcome_labels().items()
        }

    def to_call(self, record: JsonDict) -> Call:
        outcomes = self._outcomes.get()
        return records.to_call(
            record,
            connection=self.context.name,
            table=self.context.table,
            region=self.context.phone_region,
            outcomes={} if outcomes is None else outcomes.names,
            user_emails=self._users.get() or {},
        )

    def incomplete(self, record: JsonDict) -> str | None:
        """A call naming a user or custom outcome whose look-up failed this run lacks the
        rep's e-mail or the outcome's label (and the outcome it refines)."""
        missing = [
            lookup.failure
            for key, lookup in (("user_id", self._users), ("outcome_id", self._outcomes))
            if record.get(key) and lookup.get() is None
        ]
        return "; ".join(reason for reason in missing if reason) or None

    def _fetch_user_emails(self) -> dict[str, str]:
        """User id -> email (calls name users by id only)."""
        return {
            str(user["id"]): str(user["email"]).strip().lower()
            for user in self.api.users()
            if user.get("id") and user.get("email")
        }

    def record_key(self, record: JsonDict) -> str:
        return records.record_key(record)

    def check(self) -> None:
        """``GET /me/``: the cheapest authenticated request Close offers."""
        self.api.me()

    def close(self) -> None:
        self.api.close()

    # --- writing (connectors/base.py "Writing") -------------------------------------------

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        return self._resolver.resolve(call, options)

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        return self._writer.create(call, marker, resolved)

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        return self._writer.find_by_marker(marker, call)

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        # The marker is the canonical call_uid; the note keeps carrying it.
        self._writer.update(remote_id, call, call.call_uid, resolved)

    def delete(self, remote_id: str) -> None:
        self._writer.delete(remote_id)

    def account_labels(self) -> list[AccountLabel]:
        """The account's custom outcomes (``GET /outcome/``); Close's dispositions are a fixed
        enum (mappings/close.yaml), not account data."""
        return [
            AccountLabel("outcome", str(o["id"]), str(o.get("name") or ""), o.get("type"))
            for o in self._outcomes.require().records
        ]
