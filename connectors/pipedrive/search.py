"""Finding the call logs of new call activities in a list that cannot be filtered or sorted.

``GET /v1/callLogs`` has no filter and an UNCONFIRMED order (vendor-apis §2.3, §2.8), so a
search reads pages until every wanted log is found, never stopping on dates:

1. logs read earlier in this pull whose activity had not come up yet (``buffer``);
2. the *tail*: from where the list ended last time (minus ``tail_overlap``) forward, stopping
   as soon as all are found or the list ends. If the list got shorter (deletions), a page
   past its end comes back empty and the search steps back a page at a time;
3. the *head*: from offset 0 while pages still hold logs the index does not know, for lists
   that put new logs first.

Logs read but not wanted yet (their activity is on a later page of this pass, or was edited
between creation and this pull) go to the buffer, at most ``search_buffer`` of them; anything
a search cannot find is the next sweep's.
"""

from __future__ import annotations

from connectors.base import JsonDict
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.index import ActivityIndex, IndexEntry
from connectors.pipedrive.records import activity_id_of


class LogSearch:
    """One per pull: its position and buffer carry over from one activity page to the next."""

    def __init__(
        self,
        client: PipedriveClient,
        index: ActivityIndex,
        *,
        page_size: int,
        buffer_size: int,
        pos: int,
    ) -> None:
        self.client = client
        self.index = index
        self.page_size = page_size
        self.buffer_size = buffer_size
        self.pos = pos  # where the tail scan reads next
        self.low = pos  # the lowest offset the tail scan started from
        self.end: int | None = None  # the list's length, once seen in this pull
        self.head_done = False
        self.buffer: dict[int, tuple[JsonDict, int]] = {}  # activity id -> (log, offset)

    @property
    def resume_pos(self) -> int:
        """Where a resumed pull must read from: the buffer is lost with the process, so the
        logs it held are read again (only after a crash)."""
        return min([self.pos, *(offset for _, offset in self.buffer.values())])

    def find(self, wanted: set[int]) -> dict[int, JsonDict]:
        """The call logs (by activity id) of the ``wanted`` activities that could be found."""
        missing = set(wanted)
        found = {aid: self.buffer.pop(aid)[0] for aid in wanted if aid in self.buffer}
        missing -= found.keys()
        if missing:
            self._scan_tail(missing, found)
        if missing and not self.head_done:
            self._scan_head(missing, found)
        return found

    def _scan_tail(self, missing: set[int], found: dict[int, JsonDict]) -> None:
        while missing:
            page = self.client.call_log_page(self.pos, self.page_size)
            if not page.records and self.pos > 0 and self.end is None:
                # Past the end: the list shrank since it was last seen. Step back.
                self.pos = max(0, self.pos - self.page_size)
                self.low = min(self.low, self.pos)
                continue
            self._take(page.records, self.pos, missing, found)
            self.pos += len(page.records)
            if not page.more or not page.records:
                self.end = self.pos
                return

    def _scan_head(self, missing: set[int], found: dict[int, JsonDict]) -> None:
        self.head_done = True
        start = 0
        while missing and start < self.low:
            page = self.client.call_log_page(start, self.page_size)
            unknown = self._take(page.records, start, missing, found)
            start += len(page.records)
            if not page.more or not page.records or unknown == 0:
                return

    def _take(
        self, logs: list[JsonDict], offset: int, missing: set[int], found: dict[int, JsonDict]
    ) -> int:
        """Collect wanted logs, buffer unknown ones; return how many were not known."""
        others = [
            aid for log in logs if (aid := activity_id_of(log)) is not None and aid not in missing
        ]
        known = self.index.get(others)
        unknown = 0
        for position, log in enumerate(logs, start=offset):
            aid = activity_id_of(log)
            if aid is None:
                continue
            if aid in missing:
                found[aid] = log
                missing.discard(aid)
                unknown += 1
            elif aid in found:
                continue  # already found earlier in this search (an overlap re-read)
            elif not _is_indexed(known.get(aid), log):
                unknown += 1
                if aid in self.buffer or len(self.buffer) < self.buffer_size:
                    self.buffer[aid] = (log, position)
        return unknown


def _is_indexed(entry: IndexEntry | None, log: JsonDict) -> bool:
    return entry is not None and entry.log_id == str(log.get("id"))
