"""``PipedriveConnector``: reads the token user's call logs (strategy: ``cursor``) and the other
users' call activities (``others``), and writes calls as call logs (``identity``,
``payload``, ``writer``, ``locate``, ``upload``)."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.base import (
    COVERAGE_STATE_KEY,
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
from connectors.pipedrive import activity_calls, records, window
from connectors.pipedrive.budget import DailyBudget, token_cost
from connectors.pipedrive.changes import Changes
from connectors.pipedrive.client import ACTIVITIES, PipedriveClient, credential_key
from connectors.pipedrive.cursor import (
    Bookmark,
    ChangesProgress,
    Phase,
    SweepProgress,
    encode_completed,
    encode_partial,
    iso,
    later,
    plan,
)
from connectors.pipedrive.identity import MemoryIdentities, Resolver
from connectors.pipedrive.index import BUDGET_KEY, PROFILE_KEY, ActivityIndex, Batch
from connectors.pipedrive.locate import LogFinder, marked_activity
from connectors.pipedrive.others import OtherUsers, coverage, is_admin
from connectors.pipedrive.search import LogSearch
from connectors.pipedrive.settings import PipedriveSettings
from connectors.pipedrive.sweep import Sweep
from connectors.pipedrive.upload import upload
from connectors.pipedrive.writer import Writer
from syncer.errors import BudgetExhaustedError
from syncer.model import Call


class PipedriveConnector(Connector):
    kind: ClassVar[str] = "pipedrive"
    streams: ClassVar[tuple[str, ...]] = ("calls",)
    window_filter: ClassVar[bool] = False  # /v1/callLogs has no time filter (see ``window``)
    # Update: the activity's subject, note, person and deal/lead in place; what only the call
    # log holds raises CannotUpdate. Recordings are uploaded files (no URL field exists).
    write_support: ClassVar[WriteSupport] = WriteSupport(
        create=True, update=True, delete=True, recording_file=True
    )
    takes_chosen_person: ClassVar[bool] = True  # contact.ids["pipedrive"] (identity.py)
    # The note, as its text: it is written as HTML paragraphs (blank lines and the spaces
    # around lines dropped: ``read_back``). Not the outcome: Pipedrive's six outcomes take the
    # twelve canonical ones many to one, so a copy reads back another outcome than was sent;
    # nor the duration (another rep's call is read from its activity, as HH:MM at times).
    editable: ClassVar[tuple[str, ...]] = ("note",)

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        if not isinstance(context.settings, PipedriveSettings):
            raise TypeError("a pipedrive connection needs PipedriveSettings")
        self.settings = context.settings
        self.budget = DailyBudget(self.settings.daily_budget_share, context.clock)
        self.client = PipedriveClient(context, self.settings, self.budget)
        self.index = ActivityIndex(context.state)
        self.identities = identities = context.identities or MemoryIdentities()
        self.resolver = Resolver(self.client, identities, self.settings, context.phone_region)
        self.writer = Writer(self.client, identities, context.table, context.phone_region)

    # --- the read contract ------------------------------------------------------------------

    def read_back(self, values: Mapping[str, Any]) -> dict[str, Any]:
        back = dict(values)
        if "note" in back:
            back["note"] = records.note_read_back(back["note"])
        return back

    def read(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        if stream not in self.streams:
            raise ValueError(f"pipedrive has no stream {stream!r}")
        bookmark, phase = plan(cursor, self.settings, self.context.clock(), datetime.now(UTC))
        saved = self.context.state.get([PROFILE_KEY, BUDGET_KEY])
        self.budget.load(saved.get(BUDGET_KEY))
        self.budget.ensure(token_cost("GET", ACTIVITIES))  # spent already: not one request
        resume = encode_partial(bookmark, phase)
        try:
            entry, first_state = self._profile(saved.get(PROFILE_KEY))
            gaps = coverage(self.settings.other_users, entry.get("admin"))
            first_state[COVERAGE_STATE_KEY] = gaps
            for page in self._pages(bookmark, phase, entry["user"], first_state):
                resume = page.checkpoint.partial or resume
                yield page
        except BudgetExhaustedError:
            # Keep what was learnt about the budget, so the next pull today sends nothing.
            snapshot = self.budget.snapshot()
            if snapshot is not None:
                state = {BUDGET_KEY: snapshot}
                yield Page(records=(), checkpoint=Checkpoint(partial=resume), state=state)
            raise

    def read_window(
        self, stream: str, since: datetime, until: datetime, cursor: JsonDict | None
    ) -> Iterator[Page]:
        """One walk over the call-log list, kept to ``[since, until)`` (see ``window``)."""
        if stream not in self.streams:
            raise ValueError(f"pipedrive has no stream {stream!r}")
        saved = self.context.state.get([PROFILE_KEY, BUDGET_KEY])
        self.budget.load(saved.get(BUDGET_KEY))
        profile, first_state = self._profile(saved.get(PROFILE_KEY))
        sweep = Sweep(self.client, self.index, profile, self.settings.call_log_page_size)
        progress = window.progress_of(cursor, self.context.clock())

        def page_of(batch: Batch, partial: JsonDict | None) -> Page:
            nonlocal first_state
            page, first_state = self._page(batch, partial, first_state), {}
            return page

        others = self._others(profile)
        return window.read_window(sweep, since, until, progress, page_of, others)

    def to_call(self, record: JsonDict) -> Call:
        if activity_calls.is_activity_record(record):
            return activity_calls.to_call(record, self.context)
        return records.to_call(record, self.context)

    def record_key(self, record: JsonDict) -> str:
        if activity_calls.is_activity_record(record):
            return activity_calls.record_key(record)
        return records.record_key(record)

    def check(self) -> None:
        self.client.me()  # 2 tokens, the cheapest authenticated request

    def close(self) -> None:
        self.client.close()

    # --- the write contract -----------------------------------------------------------------

    def resolve(self, call: Call, options: WriteOptions) -> Resolved | Parked:
        return self.resolver.resolve(call, options)

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        return self.writer.create(call, marker, resolved)

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        """The marked call log: the owner's activities since the call, then the log (see
        ``locate`` for the token cost)."""
        email = call.user.email if call.user is not None else None
        owner = self.resolver.user_id(email) if email else None
        activity = marked_activity(
            self.client,
            marker,
            call,
            owner=owner,
            lookback=self.settings.marker_lookback,
            page_size=self.settings.activity_page_size,
        )
        if activity is None:
            return None
        finder = LogFinder(
            self.client,
            self.index,
            page_size=self.settings.call_log_page_size,
            max_pages=self.settings.marker_search_pages,
        )
        return finder.log_of(int(activity["id"]))

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        self.writer.update(remote_id, call, resolved)

    def delete(self, remote_id: str) -> None:
        self.writer.delete(remote_id)

    def attach_recording(
        self, remote_id: str, call: Call, chunks: Iterator[bytes], content_type: str
    ) -> None:
        upload(self.client, remote_id, call.call_uid, chunks, content_type)

    def refuses_recording(self, remote_id: str) -> str | None:
        """Pipedrive lets only a call log's owner touch it (§2.3: logs are "assigned to a
        particular user"; UNCONFIRMED whether an admin may upload to another user's log, the
        emulator follows the strict reading): a log written for another rep takes no file."""
        owner = self.writer.log_owner(remote_id)
        me = self.identities.get("token", credential_key(self.settings.api_token))
        if owner is not None and me is not None and me.get("id") not in (None, owner):
            return "Pipedrive takes a recording only from the call log's owner"
        return None

    def account_labels(self) -> Sequence[AccountLabel]:
        """Pipedrive's six call outcomes (a fixed enum, §2.5: no request), with the canonical
        outcome each reads as."""
        table = self.context.table
        return [
            AccountLabel(
                kind="outcome", id=value, label=value, detail=str(table.read("outcome", value))
            )
            for value in table.dimension("outcome").values
        ]

    # --- the two passes ---------------------------------------------------------------------

    def _pages(
        self, bookmark: Bookmark, phase: Phase, profile: JsonDict, first_state: dict[str, JsonDict]
    ) -> Iterator[Page]:
        extra = first_state  # state that rides with the first page of the pull
        if isinstance(phase, SweepProgress):
            bookmark, phase = yield from self._sweep(bookmark, phase, profile, extra)
            extra = {}
        assert isinstance(phase, ChangesProgress)
        search = LogSearch(
            self.client,
            self.index,
            page_size=self.settings.call_log_page_size,
            buffer_size=self.settings.search_buffer,
            pos=phase.pos,
        )
        changes = Changes(
            self.client,
            self.index,
            search,
            profile,
            page_size=self.settings.activity_page_size,
            lookback=self.settings.lookback,
            others=self._others(profile),
        )
        for batch, progress, done in changes.run(phase):
            if not done:
                yield self._page(batch, encode_partial(bookmark, progress), extra)
            else:
                tail = bookmark.tail if search.end is None else search.end
                since = later(progress.high, progress.floor)
                final = replace(bookmark, since=since, tail=tail)
                yield self._page(batch, None, extra, completed=encode_completed(final))
            extra = {}

    def _others(self, profile: JsonDict) -> OtherUsers | None:
        if not self.settings.other_users:
            return None
        return OtherUsers(self.client, self.index, profile, self.settings.activity_page_size)

    def _sweep(
        self,
        bookmark: Bookmark,
        progress: SweepProgress,
        profile: JsonDict,
        extra: dict[str, JsonDict],
    ) -> Generator[Page, None, tuple[Bookmark, ChangesProgress]]:
        """The call-log list, then (``other_users``) the walk of every activity; the last page
        carries the new bookmark and what the sweep did not see."""
        others = self._others(profile)
        last = Batch.empty()
        if progress.logs_end is None:
            sweep = Sweep(self.client, self.index, profile, self.settings.call_log_page_size)
            for batch, step, end in sweep.run(progress):
                progress = step if end is None else replace(step, logs_end=end)
                if end is not None and others is None:
                    last = batch
                    break
                yield self._page(batch, encode_partial(bookmark, progress), extra)
                extra = {}
        if others is not None:
            for batch, cursor in others.walk(progress.others_cursor):
                if cursor is None:
                    last = batch
                    break
                progress = replace(progress, others_cursor=cursor)
                yield self._page(batch, encode_partial(bookmark, progress), extra)
                extra = {}
        swept, changes, unseen = self._swept(bookmark, progress, walked=others is not None)
        yield self._page(last, encode_partial(swept, changes), extra, unseen_since=unseen)
        return swept, changes

    def _swept(
        self, bookmark: Bookmark, progress: SweepProgress, *, walked: bool
    ) -> tuple[Bookmark, ChangesProgress, datetime | None]:
        """After the sweep's last page: the new bookmark, the changes pass, and whether stored
        calls missing from the list may be tombstoned."""
        end = progress.logs_end
        assert end is not None
        vanished = end == 0 and bookmark.tail > 0  # a whole history gone at once: distrust
        clean = not progress.tainted and not vanished
        swept = Bookmark(
            since=bookmark.since,
            swept_at=progress.started if clean else bookmark.swept_at,
            tail=end,
            others=walked,
        )
        changes = ChangesProgress(
            floor=bookmark.since or progress.started,
            pos=max(0, end - self.settings.tail_overlap),
        )
        unseen = datetime.fromisoformat(progress.seen_since) if clean else None
        return swept, changes, unseen

    def _page(
        self,
        batch: Batch,
        partial: JsonDict | None,
        extra: dict[str, JsonDict],
        *,
        completed: JsonDict | None = None,
        unseen_since: datetime | None = None,
    ) -> Page:
        state = {**batch.state, **extra}
        budget = self.budget.snapshot()
        if budget is not None:
            state[BUDGET_KEY] = budget
        return Page(
            records=batch.records,
            checkpoint=Checkpoint(partial=partial, completed=completed),
            deleted=batch.deleted,
            unseen_since=unseen_since,
            state=state,
        )

    def _profile(self, saved: JsonDict | None) -> tuple[JsonDict, dict[str, JsonDict]]:
        """The token user (id and phone for direction) and whether they are an admin, reused
        for ``profile_refresh``: ``({"user": ..., "admin": ...}, state to store)``."""
        now = self.context.clock()
        credential = credential_key(self.settings.api_token)
        if saved and saved.get("credential") == credential and isinstance(saved.get("user"), dict):
            fetched = saved.get("fetched_at")
            if isinstance(fetched, str) and now - records.parse_time(fetched) < (
                self.settings.profile_refresh
            ):
                return saved, {}
        me = self.client.me()
        entry = {
            "credential": credential,
            "fetched_at": iso(now),
            "user": records.profile_snapshot(me),
            "admin": is_admin(me),
        }
        return entry, {PROFILE_KEY: entry}
