"""How callsync asks Outreach "what changed since last time?" without missing a call.

Vendor facts (shared/vendor-apis/amplemarket-outreach.md §2, "doc §x"):

- ``GET /api/v2/calls`` filters on ``updatedAt`` with ``newFilterSyntax=true`` and bracket
  operators ``filter[updatedAt][gte]`` / ``[lte]``, both **inclusive** (``[gt]``/``[lt]`` are not
  confirmed, so they are not used), sorts by ``sort=updatedAt`` and pages with a keyset cursor
  on (updatedAt, id) behind ``links.next``, up to ``page[size]=1000`` (doc §2.3, §2.8).
- ``updatedAt`` has second precision, so many calls share a value (doc §2.8): a lower bound
  must be inclusive, and duplicates are harmless (the store dedupes by id and skips unchanged
  records).
- Pages may come slightly out of sort order ([inferred]; the emulator does it): the maximum
  ``updatedAt`` seen is *not* a safe resume point. Only a bound we chose is.
- There are no tombstones in REST (doc §2.8, §2.12): deletions are only visible as absence.

Strategy (one stream, ``calls``):

- A pull walks one **window** ``[start, end]``: ``end`` = now - ``settle_delay`` (truncated to
  the second), ``start`` = the last completed ``end`` - ``lookback``. The request carries both
  bounds (``filter[updatedAt][gte]``/``[lte]``), ``sort=updatedAt``, ``page[size]`` (1000) and
  ``count=false`` (doc §2.3: counting costs and may be truncated), then follows ``links.next``.
- Completed cursor ``{"watermark", "swept_at"}``: ``watermark`` becomes the window's ``end``
  only on the window's **last** page. Whatever order records arrive in, every call with
  ``updatedAt <= end`` that was visible when the window was walked has been read; a call
  edited during the walk moves past ``end`` and the next window reads it. The settle delay
  gives in-flight writes (and clock skew) time to become visible before ``end`` passes them,
  and the look-back re-reads a margin for writes later still.
- Partial cursor ``{"window", "next"}``: the ``links.next`` of the page just stored, so a
  crash re-reads at most one page. Should Outreach refuse a stored page cursor (422; how
  long one lives is unconfirmed) the window restarts from its ``start``: a re-read, never a gap.
- **Deletion sweep**, every ``sweep_interval`` (and on the first pull, which reads everything
  anyway): the window starts at ``history_start`` and has **no upper bound**, so a call edited
  while the sweep walks is met again at the end of the sort order instead of escaping it. Its
  last page carries ``Page.unseen_since`` = the wall-clock instant the sweep started (the
  store stamps ``last_seen_at`` with the wall clock): a stored call not seen since then is
  gone from Outreach. The watermark becomes now - ``settle_delay`` as of the sweep's start.
- A window whose start lies after its end (a cursor from the future) is not asked for.

Unconfirmed facts, and the defensive choice made for each:

- ``[gte]``/``[lte]`` are inclusive (the operator names say so; no vendor page does): the
  look-back re-reads a margin below the bound anyway, and a test pins inclusiveness.
- How late a write can become visible under an ``updatedAt`` already passed: unknown. The
  settle delay (2 min) plus look-back (5 min) cover it; both are settings.
- How long a ``page[after]`` cursor stays valid: unknown; a refused one restarts the window.
- Whether pages are sorted exactly: [inferred] not always; nothing relies on it.
- Whether every change callsync maps moves ``updatedAt`` (doc §2.4 names it the incremental
  cursor; §2.8: a ``dataConnections`` link does not move it): a change that does not is still
  picked up by the next sweep, which re-reads every call (the store keeps what changed).

Cost: a first pull (a sweep) is ceil(N / 1000) list requests, a sweep the same, an idle poll
one; besides, one token exchange when the access token ran out (every ~2 h) and, per connector
instance, one read of each label list when a page names a disposition or purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import JsonDict
from connectors.outreach.client import format_time
from connectors.outreach.settings import OutreachSettings


def parse_time(text: str) -> datetime:
    """An ISO 8601 instant as an aware UTC datetime (``Z`` accepted); ValueError otherwise."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else parse_time(str(value))


@dataclass(frozen=True)
class Completed:
    watermark: datetime  # every call updated up to here (inclusive) was read
    swept_at: datetime | None = None  # ``end`` of the last deletion sweep

    def to_json(self) -> JsonDict:
        return {
            "watermark": format_time(self.watermark),
            "swept_at": None if self.swept_at is None else format_time(self.swept_at),
        }

    @classmethod
    def from_json(cls, data: JsonDict) -> Completed:
        return cls(parse_time(str(data["watermark"])), _optional_time(data.get("swept_at")))


@dataclass(frozen=True)
class Window:
    """One walk over ``updatedAt``: its bounds and the cursor it leaves when done."""

    start: datetime | None  # inclusive lower bound; None = the whole history
    end: datetime | None  # inclusive upper bound; None for a sweep
    done: Completed  # the completed cursor once the last page is stored
    sweep_started: datetime | None = None  # wall-clock start of a deletion sweep

    def query(self, page_size: int) -> list[tuple[str, str]]:
        params = [("count", "false")]
        if self.start is not None:
            params.append(("filter[updatedAt][gte]", format_time(self.start)))
        if self.end is not None:
            params.append(("filter[updatedAt][lte]", format_time(self.end)))
        params += [("newFilterSyntax", "true"), ("page[size]", str(page_size))]
        return [*params, ("sort", "updatedAt")]

    def to_json(self) -> JsonDict:
        return {
            "start": None if self.start is None else format_time(self.start),
            "end": None if self.end is None else format_time(self.end),
            "done": self.done.to_json(),
            "sweep_started": (
                None if self.sweep_started is None else self.sweep_started.isoformat()
            ),
        }

    @classmethod
    def from_json(cls, data: JsonDict) -> Window:
        return cls(
            _optional_time(data.get("start")),
            _optional_time(data.get("end")),
            Completed.from_json(data["done"]),
            _optional_time(data.get("sweep_started")),
        )


def plan(
    completed: JsonDict | None, settings: OutreachSettings, now: datetime, wall_now: datetime
) -> Window | None:
    """The window of the next pull, or None when there is nothing it may read yet."""
    horizon = (now - settings.settle_delay).astimezone(UTC).replace(microsecond=0)
    last = None if completed is None else Completed.from_json(completed)
    watermark = horizon if last is None else max(horizon, last.watermark)
    if last is None or _sweep_due(last, horizon, settings.sweep_interval):
        swept = horizon if settings.sweep_interval is not None else None
        sweep_started = wall_now if settings.sweep_interval is not None else None
        end = None if sweep_started is not None else horizon
        return Window(settings.history_start, end, Completed(watermark, swept), sweep_started)
    start = last.watermark - settings.lookback
    if start > horizon:
        return None
    return Window(start, horizon, Completed(watermark, last.swept_at))


def _sweep_due(last: Completed, horizon: datetime, interval: timedelta | None) -> bool:
    if interval is None:
        return False
    return last.swept_at is None or horizon - last.swept_at >= interval
