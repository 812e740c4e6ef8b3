"""Stream ``call_events``: edits and deletions from Close's event log (§1.8, §1.9).

Calls have no ``date_updated`` filter (gotcha h), so changes come from
``GET /event/?object_type=activity.call&action=<a>&date_updated__gte=<since>``, newest first,
paged with ``_cursor``/``cursor_next`` (``_limit`` max 50), one pass per action:

- ``updated``: the current state of the changed calls is re-read in one ``id__in`` request per
  event page (events' ``data`` is admin-only after an hour and merged, so it is not trusted);
- ``created`` (``watch_backdated_creates``): calls logged with a ``date_created`` older than
  the creation windows had reached (the create schema accepts one, §1.6). Only events whose
  ``data.date_created`` lies more than the settle delay before the event are re-read (those
  are the ones the windows can have passed); without ``data`` the call is re-read anyway;
- ``deleted``: the ids are tombstoned (``Page.deleted``).

Cursor (JSON, ``v`` = 1):

- completed ``{"through": P, "seen": {event id: date_updated}}``: the log was read up to the
  poll that started at ``P``. The next poll reads from ``P - event_rescan_seconds`` because
  events become visible late and out of order (Close: re-scan the latest five minutes), and
  skips the events in ``seen`` (already handled, same ``date_updated``), so the overlap costs
  no re-reads. A merged event gets a new ``date_updated`` and is handled again.
- partial ``{"mode": "events", "poll_at", "since", "phase", "cursor", "seen"}`` resumes
  inside a pass (a rejected stored cursor restarts that pass), or ``{"mode": "sweep", ...}``.

The log keeps 30 days. When the gap since the last poll is longer than
``event_max_gap_days`` (or the first poll finds the calls stream started that long ago),
edits and deletions in the gap are lost, so the stream re-reads every call by creation window
instead and ends with ``Page.unseen_since``: stored calls the sweep did not see are gone.
``unseen_since`` is compared with the store's own clock (the wall clock), not ``context.clock``.

UNCONFIRMED: whether Close's ``_cursor`` values expire; whether non-admin keys see ``data`` on
``created`` events (we re-read when it is missing); clock skew between us and Close larger
than the rescan window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.base import Checkpoint, ConnectorState, Cursor, JsonDict, Page
from connectors.close.calls import STATE_KEY
from connectors.close.client import CloseApi
from connectors.close.settings import CloseSettings
from connectors.close.times import EPOCH, filter_value, parse_time, stamp, to_ms
from connectors.close.windows import CreationWalker, WalkPosition
from syncer.errors import VendorError

log = structlog.get_logger("callsync.close")

EVENT_LIMIT = 50
REFETCHED_CAP = 20_000  # ids re-read in one pull, remembered to skip older events of them


@dataclass
class _Pass:
    """The state of one poll of the log (what a partial checkpoint holds)."""

    poll_at: datetime
    since: datetime
    phases: tuple[str, ...]
    phase: int = 0
    cursor: str | None = None
    seen: dict[str, str] = field(default_factory=dict)
    refetched: set[str] = field(default_factory=set)

    def to_json(self) -> JsonDict:
        return {
            "v": 1,
            "mode": "events",
            "poll_at": stamp(self.poll_at),
            "since": stamp(self.since),
            "phase": self.phases[self.phase],
            "cursor": self.cursor,
            "seen": dict(self.seen),
        }


class EventStream:
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
        actions = ("updated", "created", "deleted")
        self.phases = tuple(
            a for a in actions if a != "created" or settings.watch_backdated_creates
        )

    def read(self, cursor: Cursor) -> Iterator[Page]:
        partial = cursor.partial
        if partial is not None and partial.get("mode") == "sweep":
            return self._sweep(partial)
        if partial is not None:
            return self._events(self._resumed(partial))
        now = self.clock()
        rescan = timedelta(seconds=self.settings.event_rescan_seconds)
        if cursor.completed is not None:
            through = parse_time(cursor.completed["through"])
            seen = dict(cursor.completed.get("seen") or {})
        else:
            through, seen = min(self._calls_started() or now, now), {}
        since = through - rescan
        if now - since > timedelta(days=self.settings.event_max_gap_days):
            log.warning("close.events.gap", since=stamp(since), action="full re-scan")
            return self._sweep(self._sweep_start(now))
        if since >= now:  # a cursor beyond now: nothing can be newer
            return iter([_done(max(through, now), {})])
        return self._events(_Pass(now, since, self.phases, seen=seen))

    def _calls_fact(self, name: str) -> Any:
        """What the calls stream learned (its first start, Close's real ``_skip`` cap)."""
        return self.state.get([STATE_KEY]).get(STATE_KEY, {}).get(name)

    def _calls_started(self) -> datetime | None:
        value = self._calls_fact("first_started_at")
        return parse_time(value) if isinstance(value, str) else None

    def _resumed(self, partial: JsonDict) -> _Pass:
        phase = str(partial["phase"])
        return _Pass(
            parse_time(partial["poll_at"]),
            parse_time(partial["since"]),
            self.phases,
            self.phases.index(phase) if phase in self.phases else 0,
            partial.get("cursor"),
            dict(partial.get("seen") or {}),
        )

    # --- polling the log --------------------------------------------------------------------

    def _events(self, run: _Pass) -> Iterator[Page]:
        restarted = False
        while True:
            action = run.phases[run.phase]
            try:
                events, following = self.api.events(self._query(run, action))
            except VendorError as error:
                if error.status != 400 or run.cursor is None or restarted:
                    raise
                log.warning("close.events.cursor_rejected", action=action)
                run.cursor, restarted = None, True  # re-read this pass from `since`
                continue
            records, deleted = self._handle(run, action, events)
            run.cursor = following
            if following is None:
                run.phase += 1
            if run.phase == len(run.phases):
                yield Page(records, _done(run.poll_at, self._recent(run)).checkpoint, deleted)
                return
            yield Page(records, Checkpoint(partial=run.to_json()), deleted)

    def _query(self, run: _Pass, action: str) -> dict[str, str | int]:
        query: dict[str, str | int] = {
            "object_type": "activity.call",
            "action": action,
            "_limit": EVENT_LIMIT,
        }
        if run.cursor is not None:
            query["_cursor"] = run.cursor  # the cursor carries the date bound (§1.8)
        else:
            query["date_updated__gte"] = filter_value(run.since)
        return query

    def _handle(
        self, run: _Pass, action: str, events: list[JsonDict]
    ) -> tuple[list[JsonDict], list[str]]:
        wanted: list[str] = []
        for event in events:
            event_id, object_id = event.get("id"), event.get("object_id")
            updated = event.get("date_updated")
            if not isinstance(object_id, str) or not isinstance(event_id, str):
                continue
            if isinstance(updated, str):
                if run.seen.get(event_id) == updated:
                    continue  # handled by an earlier poll (the rescan overlap)
                if self._young(run, updated):  # only those the next rescan will see again
                    run.seen[event_id] = updated
            if action == "deleted":
                wanted.append(object_id)
            elif object_id not in run.refetched and self._needs_read(action, event):
                wanted.append(object_id)  # older events of a call read in this pull: skipped
        wanted = list(dict.fromkeys(wanted))
        if action == "deleted":
            return [], wanted
        if len(run.refetched) > REFETCHED_CAP:
            run.refetched.clear()
        run.refetched.update(wanted)
        return self.api.calls_by_id(wanted), []

    def _needs_read(self, action: str, event: JsonDict) -> bool:
        if action != "created":
            return True
        data = event.get("data")
        try:
            created = parse_time(data["date_created"]) if isinstance(data, dict) else None
            logged = parse_time(str(event["date_created"]))
        except (KeyError, TypeError, ValueError):
            return True  # no usable data (non-admin key after an hour): read it to be sure
        if created is None:
            return True
        return created <= logged - timedelta(seconds=self.settings.settle_delay_seconds)

    def _young(self, run: _Pass, updated: str) -> bool:
        horizon = run.poll_at - timedelta(seconds=self.settings.event_rescan_seconds)
        try:
            return parse_time(updated) >= horizon
        except ValueError:
            return False

    def _recent(self, run: _Pass) -> dict[str, str]:
        """The handled events the next poll's rescan will see again (bounded by its window)."""
        return {key: value for key, value in run.seen.items() if self._young(run, value)}

    # --- a gap the log cannot cover ---------------------------------------------------------

    def _sweep_start(self, now: datetime) -> JsonDict:
        end = to_ms(now - timedelta(seconds=self.settings.settle_delay_seconds))
        start = self.settings.start_date or EPOCH
        return {
            "v": 1,
            "mode": "sweep",
            "poll_at": stamp(now),
            "since_wall": stamp(datetime.now(UTC)),  # the store's last_seen_at clock
            "walk": WalkPosition.over(start, end).to_json(),
        }

    def _sweep(self, partial: JsonDict) -> Iterator[Page]:
        learned = self._calls_fact("max_skip")
        cap = min(self.settings.max_skip, int(learned)) if learned else self.settings.max_skip
        walker = CreationWalker(self.api, self.settings.page_size, cap)
        poll_at, since_wall = parse_time(partial["poll_at"]), parse_time(partial["since_wall"])
        for records, after in walker.pages(WalkPosition.from_json(partial["walk"])):
            if after.windows:
                yield Page(records, Checkpoint(partial={**partial, "walk": after.to_json()}))
            else:
                yield Page(records, _done(poll_at, {}).checkpoint, unseen_since=since_wall)


def _done(through: datetime, seen: dict[str, Any]) -> Page:
    completed = {"v": 1, "through": stamp(through), "seen": seen}
    return Page([], Checkpoint(partial=None, completed=completed))
