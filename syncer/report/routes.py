"""Per route and target: which of the source's calls the target holds, and why the rest not.

A call of the route's source (in the range, not deleted, not a record callsync itself wrote
there: the calls ``ledger.routable`` would route) falls in one bucket per target, from its
ledger row: ``written`` or ``linked`` when the target holds it, else a reason of
:data:`~syncer.report.model.REASONS`. Counting is one GROUP BY. The route's filters are the
push engine's own predicate (:func:`syncer.push_facts.passes`, Python on a
:class:`Call`): for a route with filters, only the calls the target lacks are read, page by
page, to tell the filtered ones apart, so memory stays flat however long the history.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.config import RouteConfig, RouteFilters
from syncer.model import Call
from syncer.push_facts import passes
from syncer.report.model import (
    FILTERED,
    IN_DOUBT,
    NOT_ATTEMPTED,
    QUARANTINED,
    REASONS,
    Missing,
    RouteCoverage,
    TargetCoverage,
)
from syncer.runner import route_name
from syncer.store import ledger
from syncer.store.tables import QuarantineRow

calls_t, links_t = ledger.calls_t, ledger.links_t
quarantine_t = cast(sa.Table, QuarantineRow.__table__)

WRITTEN, LINKED = "written", "linked"
PAGE = 500
# Ledger state -> the reason a call is missing; a done row is held (written or linked).
_STATE_REASON = {
    ledger.PARKED: "parked",
    ledger.IN_DOUBT: IN_DOUBT,
    ledger.NEEDS_REVIEW: IN_DOUBT,
    ledger.FAILED: "failed",
    ledger.STALE: "stale",
    ledger.SKIPPED: "skipped",
}


@dataclass(frozen=True)
class Window:
    """Calls that happened in ``[since, until)``; an open end is unbounded."""

    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[Any]:
        found = []
        if self.since is not None:
            found.append(calls_t.c.started_at >= self.since)
        if self.until is not None:
            found.append(calls_t.c.started_at < self.until)
        return found


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, bucket: str, call_uid: str, limit: int) -> None:
        self.counts[bucket] += 1
        found = self.examples.setdefault(bucket, [])
        if len(found) < limit:
            found.append(call_uid)


def route_coverage(
    conn: Connection, route: RouteConfig, window: Window, examples: int
) -> RouteCoverage:
    source = _source_calls(route.source, window)
    total = conn.execute(sa.select(sa.func.count()).select_from(calls_t).where(source))
    quarantined = _quarantined(conn, route.source, examples)
    return RouteCoverage(
        route=route_name(route),
        source=route.source,
        source_calls=int(total.scalar_one()),
        complete=_complete_everywhere(conn, route, source),
        targets=tuple(
            _target(conn, route, name, source, quarantined, examples) for name in route.targets
        ),
    )


def _source_calls(source: str, window: Window) -> Any:
    return sa.and_(
        calls_t.c.origin_connection == source,
        calls_t.c.deleted_at.is_(None),
        ~ledger.is_echo(source),
        *window.conditions(),
    )


def _complete_everywhere(conn: Connection, route: RouteConfig, source: Any) -> int:
    targets = sorted(set(route.targets))
    held = (
        sa.select(sa.func.count())
        .select_from(links_t)
        .where(
            links_t.c.call_uid == calls_t.c.call_uid,
            links_t.c.target_connection.in_(targets),
            links_t.c.state == ledger.DONE,
        )
        .scalar_subquery()
    )
    stmt = sa.select(sa.func.count()).select_from(calls_t).where(source, held == len(targets))
    return int(conn.execute(stmt).scalar_one())


def _quarantined(conn: Connection, source: str, examples: int) -> Missing:
    """Unresolved records of the source that could not be mapped. They have no call, so no
    time a range could place: every one is counted, whatever the range."""
    where = sa.and_(quarantine_t.c.connection == source, quarantine_t.c.resolved_at.is_(None))
    count = conn.execute(sa.select(sa.func.count()).select_from(quarantine_t).where(where))
    keys = conn.execute(
        sa.select(quarantine_t.c.record_key)
        .where(where)
        .order_by(quarantine_t.c.id)
        .limit(examples)
    )
    return Missing(QUARANTINED, int(count.scalar_one()), tuple(keys.scalars()))


def _bucket(link: Any) -> Any:
    """The SQL bucket of a call in one target, from its ledger row (outer-joined as ``link``)."""
    whens: list[tuple[Any, str]] = [
        (link.c.state.is_(None), NOT_ATTEMPTED),
        (sa.and_(link.c.state == ledger.DONE, link.c.kind == ledger.MATCHED), LINKED),
        (link.c.state == ledger.DONE, WRITTEN),
    ]
    whens += [(link.c.state == state, reason) for state, reason in _STATE_REASON.items()]
    return sa.case(*whens, else_=NOT_ATTEMPTED)


def _target(
    conn: Connection,
    route: RouteConfig,
    target: str,
    source: Any,
    quarantined: Missing,
    examples: int,
) -> TargetCoverage:
    link = links_t.alias("link")
    joined = calls_t.outerjoin(
        link, sa.and_(link.c.call_uid == calls_t.c.call_uid, link.c.target_connection == target)
    )
    bucket = _bucket(link).label("bucket")
    stmt = sa.select(bucket, sa.func.count()).select_from(joined).where(source).group_by(bucket)
    counts = Counter({str(name): int(n) for name, n in conn.execute(stmt)})
    if route.filters == RouteFilters():
        tally = _Tally(counts)
        for reason in REASONS:
            if counts[reason]:
                tally.examples[reason] = _examples(conn, joined, source, bucket, reason, examples)
    else:
        tally = _filtered(conn, route.filters, joined, source, bucket, examples)
        tally.counts.update({WRITTEN: counts[WRITTEN], LINKED: counts[LINKED]})
    missing = tuple(
        quarantined
        if reason == QUARANTINED
        else Missing(reason, tally.counts[reason], tuple(tally.examples.get(reason, ())))
        for reason in REASONS
    )
    return TargetCoverage(target, tally.counts[WRITTEN], tally.counts[LINKED], missing)


def _examples(
    conn: Connection, joined: Any, source: Any, bucket: Any, reason: str, limit: int
) -> list[str]:
    stmt = (
        sa.select(calls_t.c.call_uid)
        .select_from(joined)
        .where(source, bucket == reason)
        .order_by(calls_t.c.call_uid)
        .limit(limit)
    )
    return list(conn.execute(stmt).scalars())


def _filtered(
    conn: Connection, filters: RouteFilters, joined: Any, source: Any, bucket: Any, limit: int
) -> _Tally:
    """The calls the target lacks, read in keyset pages: those the filters leave out are
    ``filtered`` (as the push skips them, whatever their ledger row says), the rest keep their
    bucket."""
    tally, after = _Tally(), ""
    lacking = bucket.not_in([WRITTEN, LINKED])
    while True:
        stmt = (
            sa.select(calls_t.c.call_uid, calls_t.c.data, bucket)
            .select_from(joined)
            .where(source, lacking, calls_t.c.call_uid > after)
            .order_by(calls_t.c.call_uid)
            .limit(PAGE)
        )
        rows = conn.execute(stmt).all()
        for row in rows:
            routed = passes(filters, Call.model_validate(row.data))
            tally.add(row.bucket if routed else FILTERED, row.call_uid, limit)
        if len(rows) < PAGE:
            return tally
        after = rows[-1].call_uid
