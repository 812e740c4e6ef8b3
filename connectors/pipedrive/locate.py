"""``find_by_marker``: the call log callsync created for a call, when the create's answer was
lost, found without reading the whole call-log list.

Two steps (vendor-apis close-pipedrive.md §2.3, §2.4, §2.9):

1. **The activity.** Every call log is wrapped in a ``call`` activity holding the same note,
   and the activity list can be filtered: ``GET /api/v2/activities?owner_id=<user>
   &updated_since=<call start - marker_lookback>&sort_by=update_time`` (10 tokens per 500
   activities). The record was created after the call started, and edits only move
   ``update_time`` later, so the window always holds it. The first live ``call`` activity whose
   note carries ``callsync:<marker>`` is the one; none: nothing was created (``None``).
2. **Its call log.** An activity does not name its call log, and ``/v1/callLogs`` cannot be
   filtered (20 tokens per 50 logs). The read path's index (connector state) is asked first
   (free); then the list is probed: page 0 (lists that put new logs first), then pages at
   doubling offsets until the end is passed, a bisection to the last page, and backwards from
   the end (lists that append). Cost: 1 page for up to 50 logs, about ``2*log2(n/50) + 2``
   pages for ``n`` logs (about 340 tokens for 10,000), never more than
   ``marker_search_pages``. Past that cap, or when the log is not in the token user's list (a
   call logged for another user), :class:`MarkerSearchError` asks for a later try rather than
   answering "not created" (which would make the engine create a duplicate): the engine
   puts the write in ``needs_review`` with the activity id as evidence.
"""

from __future__ import annotations

from datetime import timedelta

from connectors.base import JsonDict
from connectors.pipedrive.client import ACTIVITIES, CallLogPage, PipedriveClient
from connectors.pipedrive.cursor import iso
from connectors.pipedrive.index import ActivityIndex
from connectors.pipedrive.payload import has_marker
from connectors.pipedrive.records import activity_id_of
from syncer.errors import UnsettledWriteError
from syncer.model import Call


class MarkerSearchError(UnsettledWriteError):
    """The marked activity exists (so the create landed) but its call log was not found within
    the budget: retrying would find the same, so the write waits for a person to adopt it."""

    def __init__(self, message: str, activity_id: int) -> None:
        super().__init__(message, {"pipedrive_activity_id": activity_id})


def marked_activity(
    client: PipedriveClient,
    marker: str,
    call: Call,
    *,
    owner: int | None,
    lookback: timedelta,
    page_size: int,
) -> JsonDict | None:
    """The live ``call`` activity whose note carries ``marker`` (step 1)."""
    params: JsonDict = {
        "updated_since": iso(call.started_at - lookback),
        "sort_by": "update_time",
        "sort_direction": "asc",
        "limit": page_size,
    }
    if owner is not None:
        params["owner_id"] = owner
    while True:
        body = client.get(ACTIVITIES, params)
        for activity in body.get("data") or ():
            live = activity.get("type") == "call" and not activity.get("is_deleted")
            if live and has_marker(activity.get("note"), marker):
                return dict(activity)
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not isinstance(cursor, str):
            return None
        params["cursor"] = cursor


class LogFinder:
    """Step 2: the call-log id of one activity, by the index, then by probing the list."""

    def __init__(
        self, client: PipedriveClient, index: ActivityIndex, *, page_size: int, max_pages: int
    ) -> None:
        self.client = client
        self.index = index
        self.page_size = page_size
        self.max_pages = max_pages
        self._pages: dict[int, CallLogPage] = {}
        self._wanted = 0
        self._hit: str | None = None

    def log_of(self, activity_id: int) -> str:
        entry = self.index.get([activity_id]).get(activity_id)
        if entry is not None and entry.log_id is not None:
            return entry.log_id
        self._pages, self._wanted, self._hit = {}, activity_id, None
        found = self._probe()
        if found is None:
            raise MarkerSearchError(
                f"activity {activity_id} carries the marker but its call log is not in this "
                "token's call-log list (gone, or logged for another user)",
                activity_id,
            )
        return found

    def _probe(self) -> str | None:
        if not self._read(0).more or self._found():
            return self._hit
        start = self._last_page_start() - self.page_size
        while not self._found() and start > 0:
            self._read(start)
            start -= self.page_size
        return self._hit

    def _found(self) -> bool:
        return self._hit is not None

    def _last_page_start(self) -> int:
        """The offset of the list's last page: doubling steps past the end, then bisection.
        Offsets stay multiples of the page size, so the backward walk covers every entry."""
        size = self.page_size
        low, high, step = 0, None, size  # ``low`` holds entries and more follow
        while high is None:
            page = self._read(low + step)
            if self._found():
                return low + step
            if not page.records:
                high = low + step
            elif not page.more:
                return low + step
            else:
                low, step = low + step, step * 2
        while high - low > size:
            middle = low + (high - low) // size // 2 * size
            page = self._read(middle)
            if self._found() or (page.records and not page.more):
                return middle
            if page.records:
                low = middle
            else:
                high = middle
        return low

    def _read(self, start: int) -> CallLogPage:
        if start in self._pages:
            return self._pages[start]
        if len(self._pages) >= self.max_pages:
            raise MarkerSearchError(
                f"activity {self._wanted} carries the marker; its call log was not among the "
                f"{self.max_pages} call-log pages read (marker_search_pages)",
                self._wanted,
            )
        page = self.client.call_log_page(start, self.page_size)
        self._pages[start] = page
        for log in page.records:
            if activity_id_of(log) == self._wanted and log.get("id") not in (None, ""):
                self._hit = str(log["id"])
        return page
