"""The sweep: read the whole call-log list, join each step to its activities, store it all.

See ``cursor`` for why (first pull, deleted logs, late recordings, logs no probe found) and
what it costs. Offsets are Pipedrive's true offsets (``start``), so an entry deleted before
the read position shifts the rest left and one entry would be skipped unseen: consecutive
pages overlap by one entry, and a page whose first entries do not line up with the last
entry read taints the sweep (no deletions are inferred from it). Entries inserted before the
read position only repeat entries already read; they are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from connectors.base import JsonDict
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.cursor import SweepProgress
from connectors.pipedrive.index import ActivityIndex, Batch, IndexEntry
from connectors.pipedrive.records import activity_id_of, activity_snapshot, build_record

PAGES_PER_STEP = 2  # 50 + 49 new entries: one `ids=` join (at most 100 ids) per step


def align(entries: list[JsonDict], last_id: str | None) -> tuple[list[JsonDict], bool]:
    """The entries after ``last_id`` (the overlap), and whether the page lined up."""
    if last_id is None:
        return entries, True
    ids = [str(entry.get("id")) for entry in entries]
    if last_id in ids:
        return entries[ids.index(last_id) + 1 :], True
    return entries, False


class Sweep:
    def __init__(
        self,
        client: PipedriveClient,
        index: ActivityIndex,
        profile: JsonDict | None,
        page_size: int,
    ) -> None:
        self.client = client
        self.index = index
        self.profile = profile
        self.page_size = page_size

    def run(self, progress: SweepProgress) -> Iterator[tuple[Batch, SweepProgress, int | None]]:
        """(batch, progress after it, list length once the end is reached) per step."""
        while True:
            logs, progress, end = self._read_step(progress)
            yield self._join(logs), progress, end
            if end is not None:
                return

    def _read_step(
        self, progress: SweepProgress
    ) -> tuple[list[JsonDict], SweepProgress, int | None]:
        logs: list[JsonDict] = []
        for _ in range(PAGES_PER_STEP):
            page = self.client.call_log_page(progress.start, self.page_size)
            fresh, aligned = align(page.records, progress.last_id)
            logs.extend(fresh)
            progress = replace(progress, tainted=progress.tainted or not aligned)
            if not page.more or not page.records:
                # A page claiming more but holding nothing cannot be trusted to be the end.
                suspicious = page.more and not page.records
                end = progress.start + len(page.records)
                return logs, replace(progress, tainted=progress.tainted or suspicious), end
            progress = replace(
                progress,
                start=progress.start + len(page.records) - 1,
                last_id=str(page.records[-1].get("id")),
            )
        return logs, progress, None

    def _join(self, logs: list[JsonDict]) -> Batch:
        """Each log with its activity: as stored when the index knows the pair, else fresh."""
        batch = Batch.empty()
        known = self.index.get(a for log in logs if (a := activity_id_of(log)) is not None)
        unjoined = [
            activity_id
            for log in logs
            if (activity_id := activity_id_of(log)) is not None
            and not _joined(known.get(activity_id), log)
        ]
        fresh: dict[object, JsonDict] = {}
        if unjoined:
            for activity in self.client.activities_by_ids(unjoined):
                fresh[activity.get("id")] = activity_snapshot(activity)
        for log in logs:
            activity_id = activity_id_of(log)
            snapshot = None
            if activity_id is not None:
                entry = known.get(activity_id)
                snapshot = fresh.get(activity_id) or (entry.activity if entry else None)
                updated = IndexEntry(str(log.get("id")), snapshot)
                if updated != entry:
                    batch.remember(activity_id, updated)
            batch.records.append(build_record(log, snapshot, self.profile))
        return batch


def _joined(entry: IndexEntry | None, log: JsonDict) -> bool:
    return entry is not None and entry.log_id == str(log.get("id")) and entry.activity is not None
