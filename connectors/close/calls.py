"""Stream ``calls``: every call by creation time, plus calls still in progress.

Cursor (JSON, ``v`` = 1):

- completed ``{"through": T}``: every call with ``date_created <= T`` has been read.
- partial ``{"end": E, "walk": WalkPosition}``: this pull reads ``(T, E]`` and stands at
  ``walk`` (see ``windows.py``); ``E`` is fixed when the pull starts, so a resumed pull reads
  the very same windows.

A pull reads the window ``(T - creation_lookback, now - settle_delay]``. ``date_created`` is
set once and never edited (it is not in the update schema, §1.6), so a call is in exactly
one pull's window; edits and deletions come from the event log (stream ``call_events``).
Settle delay: Close's own advice is a window end in the past ("now - 2 min", §1.9), so a
call committed late, or a clock a little ahead of Close's, is still inside a later window.

Calls still ``created``/``in-progress`` keep changing after creation (gotcha 1.12-l). Their
ids (a handful: calls happening right now) are kept in connector state and re-read with one
``id__in`` request at the start of each pull until they end or ``in_progress_watch_hours``
pass. This does not rely on Close emitting ``updated`` events for telephony changes
(UNCONFIRMED: the log also has ``answered``/``completed`` actions for those).

Connector state ``close.calls``: ``first_started_at`` (the event stream starts there on its
first run, so edits made during a long first pull are not missed), ``max_skip`` once Close
has told us its real cap, ``watch`` (in-progress id -> date_created).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Checkpoint, ConnectorState, Cursor, JsonDict, Page
from connectors.close.client import CloseApi
from connectors.close.settings import CloseSettings
from connectors.close.times import EPOCH, parse_time, stamp, to_ms
from connectors.close.windows import CreationWalker, WalkPosition

STATE_KEY = "close.calls"
IN_PROGRESS = frozenset({"created", "in-progress"})
ONE_MS = timedelta(milliseconds=1)
WATCH_CAP = 200  # calls happening at the same moment; beyond this, the event log must do


class CallsStream:
    def __init__(
        self,
        api: CloseApi,
        settings: CloseSettings,
        clock: Callable[[], datetime],
        state: ConnectorState,
    ) -> None:
        self.api = api
        self.settings = settings
        self.clock = clock
        self.state = state

    def read(self, cursor: Cursor) -> Iterator[Page]:
        now = self.clock()
        facts: dict[str, Any] = dict(self.state.get([STATE_KEY]).get(STATE_KEY, {}))
        dirty = "first_started_at" not in facts
        facts.setdefault("first_started_at", stamp(now))
        learned = facts.get("max_skip")
        walker = CreationWalker(
            self.api,
            self.settings.page_size,
            min(self.settings.max_skip, int(learned)) if learned else self.settings.max_skip,
        )
        done = parse_time(cursor.completed["through"]) if cursor.completed else None
        if cursor.partial is not None:
            end = parse_time(cursor.partial["end"])
            position = WalkPosition.from_json(cursor.partial["walk"])
        else:
            end = to_ms(now - timedelta(seconds=self.settings.settle_delay_seconds))
            position = WalkPosition.over(self._start(done), end)
            if facts.get("watch"):
                yield self._watch_page(facts, now, _partial(end, position))
                dirty = False
        through = max(end, done) if done is not None else end
        for records, after in walker.pages(position):
            dirty = self._watch(facts, records, now) or dirty
            if walker.learned_max_skip is not None and facts.get("max_skip") != walker.max_skip:
                facts["max_skip"], dirty = walker.max_skip, True
            final = not after.windows
            yield Page(
                records,
                Checkpoint(
                    partial=None if final else _partial(end, after),
                    completed={"v": 1, "through": stamp(through)} if final else None,
                ),
                state={STATE_KEY: dict(facts)} if dirty else {},
            )
            dirty = False

    def read_window(
        self, since: datetime, until: datetime, cursor: JsonDict | None
    ) -> Iterator[Page]:
        """The calls that happened in ``[since, until)``: ``activity_at`` windows
        ``(since - 1 ms, until - 1 ms]`` (Close keeps milliseconds), walked like a pull's
        creation windows. A call without ``activity_at`` (its start is then ``date_created``)
        is not matched by an ``activity_at`` filter: the live ``calls`` stream reads it."""
        learned = self.state.get([STATE_KEY]).get(STATE_KEY, {}).get("max_skip")
        walker = CreationWalker(
            self.api,
            self.settings.page_size,
            min(self.settings.max_skip, int(learned)) if learned else self.settings.max_skip,
            time_field="activity_at",
        )
        if cursor is not None:
            position = WalkPosition.from_json(cursor["walk"])
        else:
            position = WalkPosition.over(to_ms(since) - ONE_MS, to_ms(until) - ONE_MS)
        for records, after in walker.pages(position):
            partial = {"v": 1, "walk": after.to_json()} if after.windows else None
            yield Page(records, Checkpoint(partial=partial))

    def _start(self, done: datetime | None) -> datetime:
        if done is not None:
            return done - timedelta(seconds=self.settings.creation_lookback_seconds)
        return self.settings.start_date or EPOCH

    # --- calls in progress -----------------------------------------------------------------

    def _watch_page(self, facts: dict[str, Any], now: datetime, partial: JsonDict) -> Page:
        """Re-read the watched calls; keep those still in progress and young enough."""
        watch: dict[str, str] = dict(facts["watch"])
        ids = list(watch)
        records: list[JsonDict] = []
        size = self.settings.page_size
        for start in range(0, len(ids), size):
            records += self.api.calls_by_id(ids[start : start + size])
        facts["watch"] = {}
        self._watch(facts, records, now)
        return Page(records, Checkpoint(partial=partial), state={STATE_KEY: dict(facts)})

    def _watch(self, facts: dict[str, Any], records: list[JsonDict], now: datetime) -> bool:
        """Add the calls of ``records`` still in progress to the watch; True if it changed."""
        hours = self.settings.in_progress_watch_hours
        if hours <= 0:
            return False
        oldest = now - timedelta(hours=hours)
        watch: dict[str, str] = dict(facts.get("watch") or {})
        before = dict(watch)
        for record in records:
            call_id, created = record.get("id"), record.get("date_created")
            if not isinstance(call_id, str) or not isinstance(created, str):
                continue
            watch.pop(call_id, None)
            young = _parses_after(created, oldest)
            if record.get("status") in IN_PROGRESS and young and len(watch) < WATCH_CAP:
                watch[call_id] = created
        watch = {key: value for key, value in watch.items() if _parses_after(value, oldest)}
        facts["watch"] = watch
        return watch != before


def _partial(end: datetime, position: WalkPosition) -> JsonDict:
    return {"v": 1, "end": stamp(end), "walk": position.to_json()}


def _parses_after(value: str, oldest: datetime) -> bool:
    try:
        return parse_time(value) >= oldest
    except ValueError:
        return False
