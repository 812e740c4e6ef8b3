"""The changes pass: call activities updated since the bookmark, turned into call records.

See ``cursor`` for the strategy. Per call activity (``type == "call"``) and its index entry:

- known log, activity as stored -> nothing (the lookback re-reads these on every pull);
- known log, activity soft-deleted -> tombstone the log, remember the deleted activity;
- known log, activity edited -> refetch the log (``GET /v1/callLogs/{id}``, 2 tokens): gone
  (404/410) -> tombstone; else store the call with the edited activity;
- no known log, done, not deleted, owned by the token user, version not searched yet -> wanted:
  looked up in the list (``search``); found -> store; not found -> remember the version.

Activities of other users go to ``others`` (stored from the activity itself) when the
connection reads them (``other_users``), else they are skipped with planned (not done)
calls: the list only holds the token user's logs, and a log is always done (§2.3, §2.6).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

from connectors.base import JsonDict
from connectors.pipedrive.activity_calls import record_key_of
from connectors.pipedrive.client import ActivityPage, PipedriveClient
from connectors.pipedrive.cursor import ChangesProgress, later, query_since
from connectors.pipedrive.index import ActivityIndex, Batch, IndexEntry
from connectors.pipedrive.others import OtherUsers
from connectors.pipedrive.records import CALL_TYPE, activity_snapshot, build_record
from connectors.pipedrive.search import LogSearch
from syncer.errors import VendorError


class Changes:
    def __init__(
        self,
        client: PipedriveClient,
        index: ActivityIndex,
        search: LogSearch,
        profile: JsonDict,
        *,
        page_size: int,
        lookback: timedelta,
        others: OtherUsers | None = None,
    ) -> None:
        self.client = client
        self.index = index
        self.search = search
        self.profile = profile
        self.page_size = page_size
        self.lookback = lookback
        self.others = others

    def run(self, progress: ChangesProgress) -> Iterator[tuple[Batch, ChangesProgress, bool]]:
        """(batch, progress after it, whether the pass is complete) per activity page."""
        since = query_since(progress.floor, self.lookback)
        while True:
            page, since = self._fetch(since, progress)
            high = later(progress.high, _newest(page.records))
            batch = self._handle(page.records)
            progress = replace(
                progress, cursor=page.next_cursor, high=high, pos=self.search.resume_pos
            )
            yield batch, progress, page.next_cursor is None
            if page.next_cursor is None:
                return

    def _fetch(
        self, since: str | None, progress: ChangesProgress
    ) -> tuple[ActivityPage, str | None]:
        try:
            page = self.client.activities(since=since, cursor=progress.cursor, limit=self.page_size)
        except VendorError as error:
            if error.status != 400 or progress.cursor is None:
                raise
            # A stored cursor the vendor no longer accepts (UNCONFIRMED how long they live):
            # query again from the newest update_time read (inclusive, so ties are re-read).
            since = progress.high or since
            page = self.client.activities(since=since, cursor=None, limit=self.page_size)
        return page, since

    def _handle(self, activities: list[JsonDict]) -> Batch:
        calls = [
            a for a in activities if a.get("type") == CALL_TYPE and isinstance(a.get("id"), int)
        ]
        entries = self.index.get(a["id"] for a in calls)
        batch = Batch.empty()
        wanted: dict[int, JsonDict] = {}
        for activity in calls:
            entry = entries.get(activity["id"])
            if entry is not None and entry.known:
                self._known(activity, entry, batch)
            elif self.others is not None and self.others.owns(activity):
                self.others.collect(activity, entry, batch)
            elif self._wanted(activity, entry):
                wanted[activity["id"]] = activity
        if wanted:
            self._resolve(wanted, entries, batch)
        return batch

    def _known(self, activity: JsonDict, entry: IndexEntry, batch: Batch) -> None:
        assert entry.log_id is not None
        snapshot = activity_snapshot(activity)
        if entry.activity == snapshot:
            return
        if activity.get("is_deleted") is True:
            batch.deleted.append(entry.log_id)
            batch.remember(activity["id"], IndexEntry(entry.log_id, snapshot))
            return
        log = self.client.call_log(entry.log_id)
        if log is None:  # deleted (no event says so): the activity may get a new log later
            batch.deleted.append(entry.log_id)
            batch.remember(activity["id"], IndexEntry(checked=activity.get("update_time")))
            if self.others is not None and self.others.owns(activity):
                # Moved to another user, whose log this token cannot read: the activity
                # record takes over from the tombstoned log record.
                self.others.collect(activity, None, batch)
            return
        batch.records.append(build_record(log, snapshot, self.profile))
        batch.remember(activity["id"], IndexEntry(entry.log_id, snapshot))

    def _wanted(self, activity: JsonDict, entry: IndexEntry | None) -> bool:
        if activity.get("is_deleted") is True or activity.get("done") is not True:
            return False
        if activity.get("owner_id") != self.profile.get("id"):
            return False
        if entry is not None and entry.from_activity:
            return entry.activity != activity_snapshot(activity)  # searched once per version
        return entry is None or entry.checked != activity.get("update_time")

    def _resolve(
        self, wanted: dict[int, JsonDict], entries: dict[int, IndexEntry], batch: Batch
    ) -> None:
        found = self.search.find(set(wanted))
        for activity_id, activity in wanted.items():
            log = found.get(activity_id)
            entry = entries.get(activity_id)
            from_activity = entry is not None and entry.from_activity
            if log is None:
                if from_activity and self.others is not None:
                    # Moved to the token user, no log of theirs (yet): keep it current.
                    self.others.collect(activity, entry, batch)
                else:
                    batch.remember(activity_id, IndexEntry(checked=activity.get("update_time")))
                continue
            if from_activity:  # read from another user's activity before: the log replaces it
                batch.deleted.append(record_key_of(activity_id))
            snapshot = activity_snapshot(activity)
            batch.records.append(build_record(log, snapshot, self.profile))
            batch.remember(activity_id, IndexEntry(str(log.get("id")), snapshot))


def _newest(activities: list[JsonDict]) -> str | None:
    newest: str | None = None
    for activity in activities:
        stamp = activity.get("update_time")
        if isinstance(stamp, str) and stamp:
            newest = later(newest, stamp)
    return newest
