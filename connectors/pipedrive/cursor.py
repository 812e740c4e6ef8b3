"""How callsync finds every changed Pipedrive call cheaply, and the cursor that remembers it.

Vendor facts (vendor-apis close-pipedrive.md §2.3, §2.4, §2.8, §2.9):
- ``GET /v1/callLogs`` (20 tokens, at most 50 per page) is the only list of calls, and only
  of the token user's calls: no date, updated-since or sort parameter; its order is
  UNCONFIRMED. ``GET /v1/callLogs/{id}`` costs 2 tokens. Logs cannot be updated; deleting one
  leaves its activity, and nothing announces the deletion.
- ``GET /api/v2/activities`` (10 tokens, up to 500 per page) filters ``updated_since``
  (inclusive) and sorts by ``update_time``; it has no type filter, and an activity does not
  say which call log wraps it (a log names its ``activity_id``). ``ids`` takes up to 100
  ids. Soft-deleted activities carry ``is_deleted`` (UNCONFIRMED whether lists return them;
  the emulator does. If Pipedrive does not, a soft delete is invisible: the call stays until
  its log is deleted, which the sweep notices).

One stream, ``calls``; one record per call log (see ``records``). Two passes:

1. **Changes pass** (every pull): activities with ``updated_since = since - lookback``, sorted
   by ``update_time`` asc, 500 per page, keeping ``type == "call"``. Connector state maps each
   call activity to its call log and the activity as last stored (``index``). Per call
   activity: unchanged (same ``update_time``) -> nothing; known and soft-deleted -> tombstone
   the log (no request); known and edited -> ``GET /v1/callLogs/{id}`` (2 tokens: the log may
   be gone, 404/410 -> tombstone, and ``has_recording`` may have changed) and store the call
   with the fresh activity; unknown, done and the user's own -> *wanted*. Wanted logs are
   searched in the list (``search``): first where new logs were last seen (the list's end
   minus ``tail_overlap``), reading on only until every wanted log is found, then the head
   of the list (a newest-first list puts them there); the order is unconfirmed, so a search
   never stops on dates, only when all are found, the list ends, or a head page holds no
   unknown log. A wanted activity still unfound has no log of this user (an activity logged
   by hand, another user's log, or a list order the probes do not cover): its version is
   remembered so it is not searched again until it changes; the sweep finds any real log.
2. **Sweep** (first pull, then every ``sweep_interval``, and at once when ``other_users`` is
   switched on): the whole list, two pages per step,
   each step joined to its activities with one ``ids=`` request (10 tokens for up to 100
   calls) for logs the index does not know. It stores every call with its activity, picks up
   logs no probe found and recordings added later, and (``Page.unseen_since``, on the wall
   clock the store stamps "seen" with) tombstones stored calls whose log is gone. Offset
   pages overlap by one entry; if an entry before the offset vanished during the sweep (the
   overlap does not line up) the sweep is *tainted*: it infers no deletions and runs again
   on the next pull. An empty list never tombstones a history that was not empty. With
   ``other_users``, the list is followed by a walk of every activity (``others``: other
   users' calls, 10 tokens per 500 activities) before the sweep's last page.

Why no call is missed: every new or edited call bumps its activity's ``update_time``
(creating a log creates or converts its ``call`` activity); the pass reads every activity
updated since the newest one it stored minus ``lookback`` (inclusive, ties re-read, pages
keyed by the vendor's cursor and ``update_time``, never by our clock); a wanted log is read
from the list or, failing every probe, by the next sweep; deletions come from ``is_deleted``,
404/410 on a refetch, or the sweep. Checkpoints: after every page, the bookmark of the last
completed pull plus the position inside this one (sweep offset and last id; activity cursor,
newest ``update_time`` so far, and the search position). A first pull's changes pass starts
at the sweep's start minus ``lookback`` (UNCONFIRMED clock skew between callsync and
Pipedrive is assumed below ``lookback``).

Cost (requests; tokens in brackets), N = the user's call logs, P = list pages of the sweep
= 1 + ceil((N - 50) / 49) for N > 50 (one entry of overlap per page), else 1:
- first pull: 1 profile [2] + P [20 P] + ceil(P / 2) joins [10 each] + 1 activity page [10];
  with ``other_users``: + A walk pages [10 each], A = ceil(activities of all users / 500)
  (at least 1), + 1 user list [20] when another user has a call;
- idle poll: 1 activity page [10] (+1 profile [2] once per ``profile_refresh``);
- new calls: + ceil(activity pages) + about one list page per 50 new logs [20];
- an edited call: + 1 refetch [2]; a hand-logged call activity: + 2 list pages, once per edit;
- sweep every ``sweep_interval``: P list pages [20 P] + joins only for logs not yet known
  (+ A walk pages and the user list with ``other_users``);
- another user's new or edited call: nothing more (it rides the activity page) but the user
  list [20], once per pull.
Storing each call's activity in connector state (small JSON per call, in the database) is
what lets an idle poll cost one request whatever the history size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Cursor, JsonDict
from connectors.pipedrive.records import parse_time
from connectors.pipedrive.settings import PipedriveSettings


@dataclass(frozen=True)
class Bookmark:
    """The completed cursor: where the last whole pull ended."""

    since: str | None = None  # newest activity update_time read (vendor clock, RFC 3339)
    swept_at: str | None = None  # when the last clean sweep started (our clock)
    tail: int = 0  # the call-log list's length when last seen
    others: bool = False  # a sweep has walked every user's activities (``others``)


@dataclass(frozen=True)
class SweepProgress:
    started: str  # our clock at the sweep's start: the changes pass after it starts there
    seen_since: str  # the wall clock at the sweep's start (the store stamps "seen" with it)
    start: int = 0  # the next list offset to read
    last_id: str | None = None  # the entry just before ``start`` (the overlap check)
    tainted: bool = False  # an entry may have been skipped: infer no deletions
    logs_end: int | None = None  # the list's length once read to its end: the walk is next
    others_cursor: str | None = None  # where the walk of every activity resumes


@dataclass(frozen=True)
class ChangesProgress:
    floor: str | None  # the bookmark kept when the pass reads nothing newer
    cursor: str | None = None  # the vendor's next_cursor of the activity query
    high: str | None = None  # newest update_time read so far in this pass
    pos: int = 0  # where the next call-log search starts reading


Phase = SweepProgress | ChangesProgress


def _load(kind: type[Any], data: object) -> Any:
    """A dataclass from stored JSON, or None if it does not fit (an older or broken cursor)."""
    if not isinstance(data, dict):
        return None
    names = {f.name for f in dataclasses.fields(kind)}
    try:
        return kind(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None


def encode_partial(bookmark: Bookmark, phase: Phase) -> JsonDict:
    name = "sweep" if isinstance(phase, SweepProgress) else "changes"
    return {"bookmark": dataclasses.asdict(bookmark), name: dataclasses.asdict(phase)}


def encode_completed(bookmark: Bookmark) -> JsonDict:
    return dataclasses.asdict(bookmark)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def later(first: str | None, second: str | None) -> str | None:
    """The later of two instants (None, or an unreadable stamp, is "never"), normalised to
    RFC 3339 UTC seconds."""
    moments: list[datetime] = []
    for value in (first, second):
        if not value:
            continue
        try:
            moments.append(parse_time(value))
        except ValueError:
            continue
    return iso(max(moments)) if moments else None


def plan(
    cursor: Cursor, settings: PipedriveSettings, now: datetime, wall: datetime
) -> tuple[Bookmark, Phase]:
    """Where this pull starts: a resumed phase, a due sweep, or a changes pass."""
    bookmark = _load(Bookmark, cursor.completed) or Bookmark()
    partial = cursor.partial or {}
    resumed = _load(Bookmark, partial.get("bookmark"))
    sweep = _load(SweepProgress, partial.get("sweep"))
    changes = _load(ChangesProgress, partial.get("changes"))
    if resumed is not None and (sweep or changes) is not None:
        return resumed, sweep or changes
    swept = parse_time(bookmark.swept_at) if bookmark.swept_at else None
    unwalked = settings.other_users and not bookmark.others  # e.g. just switched on
    if swept is None or now - swept >= settings.sweep_interval or unwalked:
        return bookmark, SweepProgress(started=iso(now), seen_since=wall.isoformat())
    return bookmark, ChangesProgress(
        floor=bookmark.since, pos=max(0, bookmark.tail - settings.tail_overlap)
    )


def query_since(floor: str | None, lookback: timedelta) -> str | None:
    return None if floor is None else iso(parse_time(floor) - lookback)
