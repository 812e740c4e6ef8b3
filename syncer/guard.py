"""The mass-change guard: stop a run that would change far more than usual, before it does.

Two places where one bad answer (a vendor returning an empty list, a mapping change that
touches every call, a source that deleted its history by mistake) would otherwise be copied
everywhere:

- **A route target** (:func:`check_target`, under its push lease, before the first write):
  the updates it would send (what ``ledger.routable`` returns for calls the target holds) and
  the deletes or marks it would make (``syncer/deletions.py``), counted in SQL, against what
  the route has written there.
- **A full sweep** (:func:`tombstone_unseen`, the one place a sweep's deletions are stored):
  the stored records of a connection the sweep did not see, against its live stored records.

A trip stops that part only, says why (push stats and run status, the sync summary on stderr),
and records a review item (``guard_trip``) with the counts; ``--force`` or a changed
``guard:`` config lets the next run go ahead. Counts are taken before writing; a
change smaller than ``guard.min_count`` is never stopped by the share alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection

from syncer.config import GuardConfig
from syncer.store import repo, review
from syncer.store.ledger import (
    DELETED,
    DONE,
    FAILED,
    IN_DOUBT,
    MATCHED,
    PARKED,
    STALE,
    WRITTEN,
    calls_t,
    is_echo,
    links_t,
)

log = structlog.get_logger("callsync.guard")

HOW_TO_GO_AHEAD = (
    "check the source; then run with --force, accept it once with `callsync review resolve"
    " r:N --choose accept`, or raise guard.max_share/max_count"
)


class GuardTripped(Exception):
    """A route target was stopped before its first write; ``str()`` says why."""


@dataclass(frozen=True)
class Planned:
    """What a push into one target would change, and what the route has written there."""

    updates: int
    deletions: int
    written: int

    @property
    def changes(self) -> int:
        return self.updates + self.deletions


@dataclass(frozen=True)
class SweepGuard:
    """The guard a pull applies to its sweeps' deletions (``force``: not checked)."""

    policy: GuardConfig
    force: bool = False


def exceeds(policy: GuardConfig, changes: int, base: int) -> str | None:
    """Which limit ``changes`` (of ``base`` records) goes over, in words; None: within."""
    if changes <= 0:
        return None
    if policy.max_count is not None and changes > policy.max_count:
        return f"more than guard.max_count ({policy.max_count})"
    if changes >= policy.min_count and changes > policy.max_share * base:
        return f"more than guard.max_share ({policy.max_share:.0%})"
    return None


# --- a route target ------------------------------------------------------------------------


def planned(
    conn: Connection,
    source: str,
    target: str,
    *,
    deletions: bool,
    updates: bool = True,
    include_stale: bool = False,
    include_twins: bool = False,
) -> Planned:
    """Count, without reading a call: updates a push would send, copies of calls deleted at
    the source it would delete or mark (``deletions``), and copies the route wrote there.
    ``updates``/``deletions`` False: the target would send nothing for them (not counted)."""
    link = links_t.alias("link")
    joined = calls_t.join(
        link, sa.and_(link.c.call_uid == calls_t.c.call_uid, link.c.target_connection == target)
    )
    ours = sa.and_(calls_t.c.origin_connection == source, link.c.remote_id.is_not(None))
    kinds = [WRITTEN, MATCHED] if include_twins else [WRITTEN]
    retried = [IN_DOUBT, PARKED, FAILED] + ([STALE] if include_stale else [])
    # As ``ledger.routable`` has it (due or not: a row backing off is still planned).
    rewrite = sa.or_(
        sa.and_(
            link.c.state == DONE,
            link.c.kind.in_(kinds),
            link.c.written_hash != calls_t.c.content_hash,
        ),
        link.c.state.in_(retried),
    )
    alive, gone = calls_t.c.deleted_at.is_(None), calls_t.c.deleted_at.is_not(None)
    follow = sa.and_(gone, link.c.state == DONE, link.c.kind == WRITTEN)

    def count(*where: Any) -> int:
        stmt = sa.select(sa.func.count()).select_from(joined).where(ours, *where)
        return int(conn.execute(stmt).scalar_one())

    return Planned(
        updates=count(alive, rewrite, ~is_echo(source)) if updates else 0,
        deletions=count(follow) if deletions else 0,
        written=count(link.c.kind == WRITTEN, link.c.state != DELETED),
    )


def check_target(
    conn: Connection, policy: GuardConfig, source: str, target: str, plan: Planned
) -> str | None:
    """Why ``plan`` goes over the guard (the trip recorded for review), or None. The caller
    commits, then stops the target (:class:`GuardTripped`)."""
    detail = trip(policy, source, target, plan)
    if detail is None or review.take_acceptance(conn, review.GUARD_TRIP, target, source, "push"):
        return None
    review.record_open(conn, review.GUARD_TRIP, target, source, "push", detail)
    log.warning("guard.tripped", target=target, route=source, **detail)
    return str(detail["why"])


def preview_target(
    conn: Connection, policy: GuardConfig, source: str, target: str, plan: Planned
) -> dict[str, Any] | None:
    """What :func:`check_target` would say, recording nothing and leaving an acceptance
    unused (a dry run): the trip's why and numbers, or None when the run would go ahead."""
    detail = trip(policy, source, target, plan)
    if detail is None or review.has_acceptance(conn, review.GUARD_TRIP, target, source, "push"):
        return None
    return detail


def trip(policy: GuardConfig, source: str, target: str, plan: Planned) -> dict[str, Any] | None:
    """The trip ``plan`` makes (why, and the numbers), or None: within the guard."""
    over = exceeds(policy, plan.changes, plan.written)
    if over is None:
        return None
    why = (
        f"mass-change guard: this run would rewrite {plan.updates} and delete or mark "
        f"{plan.deletions} of the {plan.written} calls route {source} -> {target} wrote there, "
        f"{over}; nothing was written into {target}: {HOW_TO_GO_AHEAD}"
    )
    return {
        "why": why,
        "updates": plan.updates,
        "deletions": plan.deletions,
        "written": plan.written,
        **_limits(policy),
    }


# --- a full sweep --------------------------------------------------------------------------


def tombstone_unseen(
    conn: Connection, connection: str, stream: str, since: datetime, guard: SweepGuard | None
) -> tuple[int, str | None]:
    """Tombstone what a full sweep did not see, unless that is more than the guard allows:
    (how many were tombstoned, why none were)."""
    if guard is None or guard.force:
        return repo.mark_unseen_deleted(conn, connection, since), None
    src = repo.sources_t
    live = sa.and_(src.c.connection == connection, src.c.deleted_at.is_(None))

    def count(*where: Any) -> int:
        stmt = sa.select(sa.func.count()).select_from(src).where(live, *where)
        return int(conn.execute(stmt).scalar_one())

    unseen, stored = count(src.c.last_seen_at < since), count()
    over = exceeds(guard.policy, unseen, stored)
    accepted = over is not None and review.take_acceptance(
        conn, review.GUARD_TRIP, connection, stream, "sweep"
    )
    if over is None or accepted:
        return repo.mark_unseen_deleted(conn, connection, since), None
    why = (
        f"mass-change guard: {connection}'s full sweep did not list {unseen} of its {stored} "
        f"stored calls, {over}; none were marked deleted: {HOW_TO_GO_AHEAD}"
    )
    detail = {"why": why, "unseen": unseen, "stored": stored, **_limits(guard.policy)}
    review.record_open(conn, review.GUARD_TRIP, connection, stream, "sweep", detail)
    log.warning("guard.tripped", connection=connection, stream=stream, **detail)
    return 0, why


def _limits(policy: GuardConfig) -> dict[str, Any]:
    return {
        "max_share": policy.max_share,
        "max_count": policy.max_count,
        "min_count": policy.min_count,
    }
