"""Walking ``date_created`` windows of ``GET /activity/call/`` with ``_skip`` (§1.5, §1.9).

The call list is offset-paged only, ``_skip`` is capped (the cap and the list order are
UNCONFIRMED, §4.1-2), and it has no ``date_updated`` filter. So calls are read by creation
time, in windows ``(gt, lte]`` whose end lies in the past, each walked with ``_skip``:

- **Cap.** When the first page of a window says ``has_more``, one probe (``_skip=max_skip,
  _limit=1``) tells whether the window fits under the cap; if not, it is split in two halves
  by time (recursively), so offsets never pass the cap. A 400 ``max_skip = N`` teaches the
  real cap and splits the window the same way. A small window costs no probe.
- **Shifts.** Offsets move when calls already passed are deleted during the walk (inserts
  cannot, the window end is in the past, except calls logged with a backdated
  ``date_created``, which the event stream catches). Consecutive pages overlap by one record
  and remember the last few ids read (*anchors*). A page that shows none of them was shifted:
  the walk steps back one page and resumes after the anchor it finds, so no call is skipped.
  The order inside a window does not matter for any of this.
- **Resume.** :class:`WalkPosition` is plain JSON (pending windows, offset, anchors) and goes
  into the stream's partial checkpoint after every page.

A page yields the records not seen on the previous page; re-reads after a split or a step
back are harmless (the store upserts by id).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from connectors.base import JsonDict
from connectors.close.client import CloseApi, MaxSkipError
from connectors.close.times import filter_value, parse_time, stamp, to_ms

log = structlog.get_logger("callsync.close")

ANCHORS = 3  # ids remembered from the end of each page (a deleted anchor has spares)

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class WalkPosition:
    """Where a walk stands: pending windows (current first), offset in it, anchors."""

    windows: tuple[Window, ...]
    skip: int = 0
    anchors: tuple[str, ...] = ()
    checked: bool = False  # the current window is known to fit under the cap

    @classmethod
    def over(cls, start: datetime, end: datetime) -> WalkPosition:
        start, end = to_ms(start), to_ms(end)
        return cls(((start, end),) if start < end else ())

    def to_json(self) -> JsonDict:
        return {
            "windows": [[stamp(gt), stamp(lte)] for gt, lte in self.windows],
            "skip": self.skip,
            "anchors": list(self.anchors),
            "checked": self.checked,
        }

    @classmethod
    def from_json(cls, data: JsonDict) -> WalkPosition:
        return cls(
            tuple((parse_time(gt), parse_time(lte)) for gt, lte in data["windows"]),
            int(data["skip"]),
            tuple(str(anchor) for anchor in data["anchors"]),
            bool(data["checked"]),
        )

    def next_window(self) -> WalkPosition:
        return WalkPosition(self.windows[1:])

    def split(self) -> WalkPosition | None:
        """The current window cut in two halves by time (None when it is one millisecond)."""
        gt, lte = self.windows[0]
        middle = to_ms(gt + (lte - gt) / 2)
        if not gt < middle < lte:
            return None
        return WalkPosition(((gt, middle), (middle, lte), *self.windows[1:]))


@dataclass
class CreationWalker:
    """Reads every call created inside the windows of a :class:`WalkPosition`."""

    api: CloseApi
    page_size: int
    max_skip: int
    # ``date_created`` for pulls; a backfill walks ``activity_at`` (when the call happened,
    # §1.5 has the same gt/lte filters on it), the same way.
    time_field: str = "date_created"
    learned_max_skip: int | None = field(default=None, init=False)

    def pages(self, position: WalkPosition) -> Iterator[tuple[list[JsonDict], WalkPosition]]:
        """(new records, position after them) per response; the last position has no windows.

        Yields at least once, so an empty range still completes.
        """
        yielded = False
        while position.windows:
            records, position = self._step(position)
            if records is None:
                continue  # the position moved without a usable page (shift, split)
            yielded = True
            yield records, position
        if not yielded:
            yield [], position

    def _step(self, pos: WalkPosition) -> tuple[list[JsonDict] | None, WalkPosition]:
        """One request: the new records of the page (None if unusable) and the next position."""
        gt, lte = pos.windows[0]
        try:
            page, more = self.api.list_calls(self._query(gt, lte, pos.skip, self.page_size))
        except MaxSkipError as error:
            self._learn(error)
            return None, self._narrowed(pos)
        seen = [index for index, record in enumerate(page) if record.get("id") in pos.anchors]
        if pos.anchors and not seen and pos.skip > 0:
            # Calls before our offset were deleted: step back and find where we stopped.
            log.info("close.walk.shifted", window=[stamp(gt), stamp(lte)], skip=pos.skip)
            return None, replace(pos, skip=max(0, pos.skip - (self.page_size - 1)))
        fresh = [record for record in page if record.get("id") not in pos.anchors]
        if not more:
            return fresh, pos.next_window()
        if not pos.checked:
            if self._too_big(gt, lte):
                return fresh, self._narrowed(pos)
            pos = replace(pos, checked=True)
        after = pos.skip + self.page_size - 1  # overlap one record with this page
        if after > self.max_skip:
            return fresh, self._narrowed(pos)
        anchors = tuple(str(record.get("id")) for record in page[-ANCHORS:])
        return fresh, replace(pos, skip=after, anchors=anchors)

    def _query(self, gt: datetime, lte: datetime, skip: int, limit: int) -> dict[str, str | int]:
        query: dict[str, str | int] = {
            f"{self.time_field}__gt": filter_value(gt),
            f"{self.time_field}__lte": filter_value(lte),
            "_limit": limit,
        }
        if skip:
            query["_skip"] = skip
        return query

    def _too_big(self, gt: datetime, lte: datetime) -> bool:
        """One probe at the cap: does the window hold more calls than offsets can reach?"""
        while True:
            try:
                beyond, _ = self.api.list_calls(self._query(gt, lte, self.max_skip, 1))
            except MaxSkipError as error:
                self._learn(error)
                continue
            return bool(beyond)

    def _learn(self, error: MaxSkipError) -> None:
        """Adopt the cap Close reported; one it contradicts (we stayed within it) is lowered,
        so a confused answer can never make the walk loop."""
        max_skip = min(error.max_skip, self.max_skip - 1)
        if max_skip < 1:
            raise error
        log.warning("close.max_skip_learned", max_skip=max_skip)
        self.max_skip = self.learned_max_skip = max_skip

    def _narrowed(self, pos: WalkPosition) -> WalkPosition:
        halves = pos.split()
        if halves is not None:
            return halves
        gt, lte = pos.windows[0]
        # More calls in one millisecond than offsets reach: nothing narrower exists.
        log.error("close.window_unsplittable", window=[stamp(gt), stamp(lte)])
        return pos.next_window()
