"""The Amplemarket cursor strategy: look-back windows on ``start_date`` plus periodic sweeps.

Vendor facts it relies on (shared/vendor-apis/amplemarket-outreach.md):
- calls have **no ``updated_at``** and there is no modified-since filter; the only time filter
  is ``start_date_from`` / ``start_date_to`` on the call's start (§1.3, §1.4, §1.6);
- ``GET /calls`` lists **newest first** (§1.4, practitioner: PostHog; not found in the
  official pages) with keyset pagination: follow ``_links.next.href`` (relative, filters
  carried forward, absent on the last page, exclusive of its cursor) (§1.5);
- ``start_date`` has second precision and ties within a second are common (§1.6.2, §1.15.7);
- no update/delete endpoints, no call webhooks, no deletion feed (§1.8, §1.14): edits and
  deletions are only visible by reading the call again (§1.6.4-5).

Strategy (one stream, ``calls``):

- **Window walk** (every ordinary pull): ``GET /calls?start_date_from=<watermark - lookback
  - 1 s>`` and follow ``next`` to the end. The *watermark* is the callsync clock at the start
  of the previous completed walk (a signpost, never a record value), so every call that
  started after it, and every call that became visible up to ``lookback`` late, lies inside
  the next window. Records are upserted by id; the engine skips payloads whose hash did not
  change, so re-reading the overlap costs requests but no writes.
- **Full sweep** (the first pull, then every ``sweep_interval``): the same walk without a
  date filter. Its last page carries ``Page.unseen_since`` = the engine's wall clock when the
  sweep began, so the engine tombstones every stored call the sweep did not see (deletions),
  and edits older than the look-back are re-read.
- **Checkpoints**: newest first means a walk's oldest records come last, so the completed
  cursor (``watermark``, ``swept_at``) only moves on the walk's last page. Every other page
  stores a partial checkpoint: the ``next`` href plus the walk's signpost, window start and
  sweep start, so a crashed walk resumes at the next page of the *same* walk. Keyset links
  stay valid while new calls arrive (they land before page one, inside the next window).

Why no call is missed: a call visible at the end of a walk either was on one of its pages,
or started after the walk began (start >= signpost: inside the next window), or became
visible late, after the walk had passed its place (inside the next window when it became
visible less than ``lookback`` after its start; in the next sweep otherwise). The signpost
comes from callsync's clock, so a skew against the vendor's clock smaller than ``lookback``
is absorbed the same way.

Cost: a first pull is ``ceil(calls / page) + 1`` requests (the ``+1`` is the disposition
list, fetched once per connector instance when a page holds a disposition); an idle poll is
one request (an empty window page, no disposition fetch); a poll with activity is
``ceil(calls in the window / page) + 1``.

Unconfirmed facts and the defensive choice made:
- whether ``start_date_from`` is inclusive is unknown (§1.6.3): treated as exclusive, so the
  window starts one more second early;
- newest-first order is practitioner knowledge (§1.4): nothing here depends on the order
  *within* a walk, only on the walk reaching its end before the watermark moves;
- the maximum ``page[size]`` is undocumented (§1.4): the server default (20) unless the
  ``page_size`` setting says otherwise;
- whether an old ``next`` href still works after a long pause is unknown: a resumed walk
  whose stored href is refused (4xx) restarts from its first page, with the same window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Cursor, JsonDict

VERSION = 1
ONE_SECOND = timedelta(seconds=1)


def iso(when: datetime) -> str:
    """Amplemarket's timestamp form: UTC, whole seconds, ``Z`` (§1.3)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _stamp(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Completed:
    """Where the last whole walk left off."""

    watermark: datetime  # callsync clock when the last completed walk began
    swept_at: datetime | None  # callsync clock when the last completed sweep began

    def to_json(self) -> JsonDict:
        return {
            "v": VERSION,
            "watermark": _stamp(self.watermark),
            "swept_at": _stamp(self.swept_at),
        }

    @classmethod
    def parse(cls, raw: JsonDict | None) -> Completed | None:
        """None for a missing or unreadable cursor: the next pull then sweeps everything."""
        if not raw or raw.get("v") != VERSION:
            return None
        watermark = _instant(raw.get("watermark"))
        if watermark is None:
            return None
        return cls(watermark, _instant(raw.get("swept_at")))


@dataclass(frozen=True)
class Walk:
    """One walk over ``GET /calls`` pages: a window or a full sweep."""

    signpost: datetime  # callsync clock at the walk's start: the next watermark
    start_from: datetime | None  # ``start_date_from`` sent; None for a sweep
    swept_at: datetime | None  # the sweep this walk leaves as the latest
    seen_since: datetime | None = None  # engine wall clock at a sweep's start
    next_href: str | None = None  # where a resumed walk continues; None = first page

    @property
    def sweep(self) -> bool:
        return self.start_from is None

    def first_params(self, page_size: int | None) -> dict[str, str]:
        params = {} if page_size is None else {"page[size]": str(page_size)}
        if self.start_from is not None:
            params["start_date_from"] = iso(self.start_from)
        return params

    def completed(self) -> JsonDict:
        return Completed(self.signpost, self.swept_at).to_json()

    def partial(self, next_href: str) -> JsonDict:
        return {
            "v": VERSION,
            "next": next_href,
            "signpost": _stamp(self.signpost),
            "start_from": _stamp(self.start_from),
            "swept_at": _stamp(self.swept_at),
            "seen_since": _stamp(self.seen_since),
        }

    @classmethod
    def resume(cls, raw: JsonDict | None) -> Walk | None:
        if not raw or raw.get("v") != VERSION or not isinstance(raw.get("next"), str):
            return None
        signpost = _instant(raw.get("signpost"))
        if signpost is None:
            return None
        seen_since = _instant(raw.get("seen_since"))
        start_from = _instant(raw.get("start_from"))
        if start_from is None and seen_since is None:
            return None  # a sweep must know when it began, or it cannot infer deletions
        return cls(signpost, start_from, _instant(raw.get("swept_at")), seen_since, raw["next"])


def plan(
    cursor: Cursor,
    *,
    now: datetime,
    wall_now: datetime,
    lookback: timedelta,
    sweep_interval: timedelta,
) -> Walk:
    """The walk a pull makes from ``cursor``: resume, a window, or a full sweep.

    ``now`` is callsync's clock (the one the vendor's ``start_date`` is compared with);
    ``wall_now`` is the engine's wall clock, the one it stamps ``last_seen_at`` with.
    """
    resumed = Walk.resume(cursor.partial)
    if resumed is not None:
        return resumed
    done = Completed.parse(cursor.completed)
    if done is None or done.swept_at is None or now - done.swept_at >= sweep_interval:
        return Walk(signpost=now, start_from=None, swept_at=now, seen_since=wall_now)
    start = done.watermark.replace(microsecond=0) - lookback - ONE_SECOND
    return Walk(signpost=now, start_from=start, swept_at=done.swept_at)
