"""What a call deleted at its source does to the copy callsync wrote (``routes[].deletions``).

A pull tombstones a call (``calls.deleted_at``) from the vendor's deletion signals; routing
stops there. Per route, what happens to the record callsync wrote into each target (ledger
row ``done``, kind ``written``; a linked twin, kind ``matched``, is never touched):

- ``ignore`` (default): nothing; the copy stays as it was.
- ``mark``: the copy's note gets ``[deleted in <source> on <date>]`` through the target's
  ``update``; the row becomes ``marked``. A target that cannot update calls: ``stale``.
- ``propagate``: the copy is deleted (``connector.delete``); the row becomes ``deleted``.
  A crash between the request and the ledger write leaves the row ``done``: the next run
  deletes again, and a record already gone (404/410) counts as deleted.

Each runs after the target's routed calls (:class:`RouteHooks`), under the target's fenced push
lease, so every ledger write here is fenced like the push's own; before the first write of the
target the mass-change guard counts what the run would change (``syncer/guard.py``). A dry run
(no lease) notes in its plan whether the guard would trip and what each copy would undergo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.base import CannotUpdate, Connector, Parked, WriteSupport
from syncer import guard
from syncer.config import Deletions, GuardConfig
from syncer.errors import AmbiguousWriteError, AuthError, VendorError
from syncer.model import Call
from syncer.push import Pusher
from syncer.push_stats import PushStats
from syncer.store import ledger
from syncer.store.ledger import DONE, FAILED, STALE, WRITTEN, calls_t, links_t

GONE = (404, 410)  # the record is not there: a delete that already happened
BATCH = 200


def mark_text(source: str, deleted_at: datetime) -> str:
    return f"[deleted in {source} on {deleted_at.date().isoformat()}]"


def marked(call: Call, source: str) -> Call:
    """``call`` with the mark at the end of its note (once: a repeated mark is the same)."""
    assert call.deleted_at is not None
    text = mark_text(source, call.deleted_at)
    note = call.note or ""
    if text not in note:
        note = f"{note}\n\n{text}" if note else text
    return call.model_copy(update={"note": note, "deleted_at": None})


def acts_on(mode: Deletions, target: Connector) -> bool:
    """Whether ``mode`` sends anything to ``target`` (what the guard counts)."""
    follows = MODES.get(mode)
    return follows is not None and follows.can(target.write_support)


def gone_copies(
    conn: Connection, source: str, target: str, *, after: str = "", limit: int = BATCH
) -> list[tuple[Call, Any]]:
    """Calls of ``source`` deleted there whose copy callsync wrote into ``target`` is still
    there (``done``, or a failed delete or mark due again), in ``call_uid`` order."""
    link = links_t.alias("link")
    now = datetime.now(UTC)
    due = sa.or_(link.c.next_attempt_at.is_(None), link.c.next_attempt_at <= now)
    stmt = (
        sa.select(calls_t.c.data, calls_t.c.deleted_at, link)
        .select_from(calls_t.join(link, link.c.call_uid == calls_t.c.call_uid))
        .where(link.c.target_connection == target, link.c.kind == WRITTEN)
        .where(link.c.remote_id.is_not(None))
        .where(sa.or_(link.c.state == DONE, sa.and_(link.c.state == FAILED, due)))
        .where(calls_t.c.origin_connection == source, calls_t.c.deleted_at.is_not(None))
        .where(calls_t.c.call_uid > after)
        .order_by(calls_t.c.call_uid)
        .limit(limit)
    )
    return [
        (Call.model_validate({**row.data, "deleted_at": row.deleted_at}), row)
        for row in conn.execute(stmt)
    ]


@dataclass(frozen=True)
class RouteHooks:
    """A route's additions to each target's push: the guard first, deletions afterwards."""

    policy: GuardConfig
    force: bool = False

    def before(self, pusher: Pusher) -> None:
        if self.force:
            if pusher.plan is not None:
                pusher.plan.forced = True
            return
        with pusher.engine.begin() as conn:
            counted = _guard_counts(conn, pusher)
            source = pusher.route.source
            if pusher.plan is not None:  # a dry run: say whether it would trip, record nothing
                pusher.plan.guard = guard.preview_target(
                    conn, self.policy, source, pusher.name, counted
                )
                return
            why = guard.check_target(conn, self.policy, source, pusher.name, counted)
        if why is not None:  # the review item is committed: now stop the target
            raise guard.GuardTripped(why)

    def after(self, pusher: Pusher, stop: threading.Event) -> None:
        follow(pusher, stop)


def _guard_counts(conn: Connection, pusher: Pusher) -> guard.Planned:
    route, support = pusher.route, pusher.target.write_support
    # A target that cannot edit calls only reports a change stale, unless it recreates.
    rewrites = support.update or (pusher.options.recreate_on_change and support.delete)
    return guard.planned(
        conn,
        route.source,
        pusher.name,
        deletions=acts_on(route.deletions, pusher.target),
        updates=rewrites,
        include_stale=pusher.options.recreate_on_change,
        include_twins=route.write.update_twins,
    )


def follow(pusher: Pusher, stop: threading.Event) -> None:
    """Apply the route's ``deletions`` mode to the target's copies of deleted calls."""
    mode = MODES.get(pusher.route.deletions)
    if mode is None:  # ignore
        return
    source, target = pusher.route.source, pusher.name
    for call, link in pusher.each_call(
        lambda conn, after: gone_copies(conn, source, target, after=after), stop
    ):
        _follow_one(pusher, call, link, mode)


class _NotYet(Exception):
    """The copy cannot be followed yet (its person or user is not found): retried later."""


@dataclass(frozen=True)
class _Mode:
    """One way of following a deletion: what it does to the copy, and how it is recorded."""

    verb: str  # "delete" | "mark": the dry run's action, and the reasons' word
    can: Callable[[WriteSupport], bool]  # whether the target takes it at all
    cannot: str  # why not, after the target's kind
    state: str  # the row's state once done
    send: Callable[[Pusher, Call, Any], None]  # the request(s); raises what went wrong
    done: Callable[[str, Any], str]  # the row's reason once done, from the mark text
    count: Callable[[PushStats], None]


def _send_delete(pusher: Pusher, call: Call, link: Any) -> None:
    try:
        pusher.target.delete(link.remote_id)
    except VendorError as error:
        if error.status not in GONE:  # already gone (a crash after the delete): done
            raise


def _send_mark(pusher: Pusher, call: Call, link: Any) -> None:
    resolved = pusher.target.resolve(call, pusher.options)
    if isinstance(resolved, Parked):
        raise _NotYet(resolved.reason)
    pusher.target.update(link.remote_id, marked(call, pusher.route.source), resolved)


def _deleted(stats: PushStats) -> None:
    stats.deleted += 1


def _marked(stats: PushStats) -> None:
    stats.marked += 1


PROPAGATE = _Mode(
    "delete",
    lambda support: support.delete,
    "cannot delete calls",
    ledger.DELETED,
    _send_delete,
    lambda why, link: f"{why}; deleted {link.remote_id} in the target",
    _deleted,
)
MARK = _Mode(
    "mark",
    lambda support: support.update,
    "cannot update calls to say so",
    ledger.MARKED,
    _send_mark,
    lambda why, link: why,
    _marked,
)
MODES = {"propagate": PROPAGATE, "mark": MARK}  # ``ignore`` follows nothing


def _follow_one(pusher: Pusher, call: Call, link: Any, mode: _Mode) -> None:
    """Follow one deletion into the target (a dry run notes what it would do)."""
    assert call.deleted_at is not None
    why, verb = mark_text(pusher.route.source, call.deleted_at), mode.verb
    if not mode.can(pusher.target.write_support):
        _record(pusher, call, link, STALE, f"{why}; {pusher.target.kind} {mode.cannot}")
        return
    if pusher.plan is not None:
        pusher.plan.note(verb, call, f"{why}; would {verb} {link.remote_id} in the target")
        mode.count(pusher.stats)
        return
    try:
        mode.send(pusher, call, link)
    except AuthError:
        raise
    except CannotUpdate as cannot:
        _record(pusher, call, link, STALE, f"{why}; cannot {verb}: {cannot.field}")
        return
    except _NotYet as parked:
        _record(pusher, call, link, FAILED, f"{why}; cannot {verb} yet: {parked}")
        return
    except AmbiguousWriteError as error:  # idempotent either way: the next run asks again
        _record(pusher, call, link, FAILED, f"{why}; {verb} may not have landed: {error}")
        return
    except VendorError as error:
        _record(pusher, call, link, FAILED, f"{why}; {verb} failed: {error.message}")
        return
    _retire(pusher, call, mode.state, mode.done(why, link))
    mode.count(pusher.stats)


def _retire(pusher: Pusher, call: Call, state: str, reason: str) -> None:
    with pusher.engine.begin() as conn:
        ledger.retire(conn, pusher.fence, call.call_uid, pusher.name, state, reason)


def _record(pusher: Pusher, call: Call, link: Any, state: str, reason: str) -> None:
    """An attempt that did not follow the deletion: stale (never retried) or failed (backs
    off, then retried)."""
    failures = int(link.attempts) + 1 if state == FAILED else 1
    if pusher.plan is not None:
        pusher.plan.note("stale" if state == STALE else "fail", call, reason)
    else:
        with pusher.engine.begin() as conn:
            ledger.settle(
                conn, pusher.fence, call.call_uid, pusher.name, state, reason, failures=failures
            )
    if state == STALE:
        pusher.stats.stale += 1
    else:
        pusher.stats.failed += 1
