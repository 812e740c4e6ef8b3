"""Reading one backfill window ``[since, until)`` of Pipedrive call logs.

``GET /v1/callLogs`` has no date, updated-since or sort parameter and its order is UNCONFIRMED
(§2.3, §2.9), so a window cannot be asked for: the connector declares ``window_filter = False``
and the engine asks for *one* window over the whole backfill range. It is read like a sweep
(the whole list, two pages per step, each step joined to its activities, ``sweep``), and each
step is filtered on our side to the logs whose ``start_time`` lies in the window. The list is
never cut short on dates, since its order is unknown. With ``other_users``, the walk of
every activity follows (``others``), kept to the other users' calls that started in the
window, so a backfill holds the same calls a live pull of the period would. No deletions are
inferred (``unseen_since`` stays None): the live pull's sweep does that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from connectors.base import JsonDict, Page, started_within
from connectors.pipedrive import activity_calls
from connectors.pipedrive.cursor import SweepProgress, iso
from connectors.pipedrive.index import Batch
from connectors.pipedrive.others import OtherUsers
from connectors.pipedrive.records import parse_time
from connectors.pipedrive.sweep import Sweep


def start_of(record: JsonDict) -> datetime | None:
    if activity_calls.is_activity_record(record):
        return activity_calls.start_of(record)
    log = record.get("call_log")
    raw = log.get("start_time") if isinstance(log, dict) else None
    return parse_time(raw) if isinstance(raw, str) else None


def progress_of(cursor: JsonDict | None, now: datetime) -> SweepProgress:
    if cursor:
        try:
            return SweepProgress(**cursor)
        except TypeError:
            pass  # an unreadable position: read the list again from its start
    return SweepProgress(started=iso(now), seen_since=datetime.now(UTC).isoformat())


def read_window(
    sweep: Sweep,
    since: datetime,
    until: datetime,
    progress: SweepProgress,
    page_of: Callable[[Batch, JsonDict | None], Page],
    others: OtherUsers | None = None,
) -> Iterator[Page]:
    if progress.logs_end is None:
        for batch, step, end in sweep.run(progress):
            batch.records[:] = started_within(batch.records, since, until, start_of)
            if end is not None and others is None:
                yield page_of(batch, None)
                return
            progress = step if end is None else dataclasses.replace(step, logs_end=end)
            yield page_of(batch, dataclasses.asdict(progress))
    if others is None:
        return
    for batch, cursor in others.walk(progress.others_cursor):
        batch.records[:] = started_within(batch.records, since, until, start_of)
        batch.deleted.clear()  # the live pull's changes pass tombstones; a window only adds
        progress = dataclasses.replace(progress, others_cursor=cursor)
        yield page_of(batch, None if cursor is None else dataclasses.asdict(progress))
