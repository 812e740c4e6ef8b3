"""The twin search before a create, for a chunk of calls at once (the rules: ``twins.py``).

A push asks, before each create, whether the target already holds the call. Asked one call at
a time that costs three to five queries per call; a :class:`Neighbourhood` reads what the
answers of a whole chunk depend on in four: the stored calls near each call's number and start
(twice the start tolerance wide, for the mutual best-fit check), their ledger rows in the
target, which of the target's records are linked already, and what reviewers unlinked. The
answers are then computed in memory, by the same rules as before.

Within a chunk the push changes what later answers depend on: a call claimed for a create (or
linked to a twin) is *held* by the target from then on, and a linked record is no longer free.
The pusher says so (:meth:`Neighbourhood.held`, :meth:`Neighbourhood.linked`), so each call
gets the answer a search after the previous call's write would have given.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.model import Call
from syncer.store.ledger import DONE, IN_DOUBT, links_t
from syncer.store.twins import (
    Lookalikes,
    Tolerances,
    Twin,
    _fits,
    _Side,
    calls_t,
    remote_number,
    review_t,
)


@dataclass(frozen=True)
class _Near:
    """A stored call near one of the chunk's calls, and where the target holds it."""

    row: Any
    remote_id: str | None = None  # its record in the target (siblings only)

    @property
    def call_uid(self) -> str:
        return str(self.row.call_uid)


@dataclass
class Neighbourhood:
    """What the twin searches of a chunk's calls into ``target`` depend on."""

    target: str
    tolerances: Tolerances
    rows: list[Any] = field(default_factory=list)
    loaded: set[str] = field(default_factory=set)  # the chunk calls this can answer for
    held_uids: set[str] = field(default_factory=set)  # rows done or in doubt in the target
    siblings: dict[str, str] = field(default_factory=dict)  # call uid -> its remote id there
    linked_ids: set[str] = field(default_factory=set)  # target records some row links to
    unlinked: set[tuple[str, str]] = field(default_factory=set)  # (call, not its twin)

    @classmethod
    def load(
        cls, conn: Connection, target: str, calls: Sequence[Call], tolerances: Tolerances
    ) -> Neighbourhood:
        found = cls(target, tolerances, loaded={c.call_uid for c in calls})
        windows = _windows(calls, tolerances)
        if not windows:
            return found
        statement, params = _near_any(windows)
        found.rows = list(conn.execute(statement, params))
        found._load_links(conn, [c.call_uid for c in calls])
        return found

    def _load_links(self, conn: Connection, chunk: list[str]) -> None:
        uids = sorted({str(row.call_uid) for row in self.rows})
        rows = sa.select(links_t.c.call_uid, links_t.c.state, links_t.c.remote_id).where(
            links_t.c.target_connection == self.target, links_t.c.call_uid.in_(uids)
        )
        for uid, state, remote in conn.execute(rows):
            if state in (DONE, IN_DOUBT):
                self.held_uids.add(uid)
            if state == DONE and remote is not None:
                self.siblings[uid] = remote
        own = sorted(
            {r.origin_external_id for r in self.rows if r.origin_connection == self.target}
        )
        if own:
            linked = sa.select(links_t.c.remote_id).where(
                links_t.c.target_connection == self.target, links_t.c.remote_id.in_(own)
            )
            self.linked_ids.update(conn.execute(linked).scalars())
        unlinked = sa.select(review_t.c.subject, review_t.c.other).where(
            review_t.c.kind == "twin_disagrees",
            review_t.c.connection == self.target,
            review_t.c.subject.in_(chunk),
            review_t.c.resolution.like("unlink %"),
        )
        self.unlinked.update((subject, other) for subject, other in conn.execute(unlinked))

    # --- what the push tells it --------------------------------------------------------------

    def held(self, call_uid: str) -> None:
        """``call_uid`` now has (or is getting) its record in the target."""
        self.held_uids.add(call_uid)

    def linked(self, remote_id: str) -> None:
        """The target's record ``remote_id`` is now linked to a call."""
        self.linked_ids.add(remote_id)

    # --- the answers -------------------------------------------------------------------------

    def knows(self, call: Call) -> bool:
        return call.call_uid in self.loaded

    def find(self, call: Call) -> Twin | Lookalikes | None:
        """Where the target already holds ``call`` (loaded by :meth:`load`), several equally
        good records of its own it could be, or None."""
        number = remote_number(call)
        if number is None:
            return None
        mine = _Side.of_call(call)
        ranked: list[tuple[tuple[float, int], _Near]] = []
        for near in self._candidates(call, number):
            fit = _fits(mine, _Side.of_row(near.row), self.tolerances)
            if fit is not None:
                ranked.append((fit, near))
        ranked.sort(key=lambda item: (item[0], item[1].call_uid))
        free = [
            (fit, near)
            for fit, near in ranked
            if not self._claimed_by_a_better_fit(call, number, near, fit)
        ]
        if not free:
            return None
        best, near = free[0]
        if near.remote_id is not None:
            return Twin(remote_id=None, sibling=near.call_uid, sibling_remote=near.remote_id)
        # As good as the best and free too: a record of the target's own that could equally be it.
        alike = [
            str(other.row.origin_external_id)
            for fit, other in free
            if fit == best and other.remote_id is None
        ]
        if len(alike) > 1:
            return Lookalikes(tuple(sorted(alike)))
        return Twin(remote_id=near.row.origin_external_id)

    def _near(self, number: str, start: datetime) -> Iterable[Any]:
        low, high = start - self.tolerances.start, start + self.tolerances.start
        for row in self.rows:
            if number in (row.to_e164, row.from_e164) and low <= row.started_at <= high:
                yield row

    def _candidates(self, call: Call, number: str) -> list[_Near]:
        """Independent records of the target, then siblings, as the one-call search found."""
        near = list(self._near(number, call.started_at))
        independent = [
            _Near(row)
            for row in near
            if row.origin_connection == self.target
            and row.origin_external_id not in self.linked_ids
            and (call.call_uid, row.call_uid) not in self.unlinked
        ]
        siblings = [
            _Near(row, self.siblings[row.call_uid])
            for row in near
            if row.origin_connection != call.source.connection and row.call_uid in self.siblings
        ]
        return independent + siblings

    def _claimed_by_a_better_fit(
        self, call: Call, number: str, candidate: _Near, fit: tuple[float, int]
    ) -> bool:
        """Whether another call of the same source, not yet in the target, fits ``candidate``
        better than ``call`` does (ties go to the smaller call uid, so the answer is stable)."""
        theirs = _Side.of_row(candidate.row)
        for row in self._near(number, candidate.row.started_at):
            if (
                row.origin_connection != call.source.connection
                or row.call_uid == call.call_uid
                or row.call_uid in self.held_uids
            ):
                continue
            rival = _fits(_Side.of_row(row), theirs, self.tolerances)
            if rival is not None and (rival, row.call_uid) < (fit, call.call_uid):
                return True
        return False


def find_twin(
    conn: Connection, target: str, call: Call, tolerances: Tolerances
) -> Twin | Lookalikes | None:
    """Where ``target`` already holds ``call``, several equally good records it could be, or
    None (it does not, as far as the store knows: a write is needed)."""
    return Neighbourhood.load(conn, target, [call], tolerances).find(call)


def _windows(calls: Sequence[Call], tolerances: Tolerances) -> list[tuple[str, Any, Any]]:
    """(number, from, to) around each call's start: twice the tolerance, for the rivals of
    a candidate (themselves within one tolerance of the candidate's start)."""
    reach = 2 * tolerances.start
    windows = []
    for call in calls:
        number = remote_number(call)
        if number is not None:
            windows.append((number, call.started_at - reach, call.started_at + reach))
    return windows


def _near_any(windows: Sequence[tuple[str, Any, Any]]) -> tuple[Any, dict[str, Any]]:
    """The statement reading the calls in any of ``windows``, and its parameters. Statements
    are built once per power-of-two number of windows (the rest filled with the first one):
    building and compiling an OR of a hundred terms for every chunk would cost more than the
    query itself."""
    size = 1 << (len(windows) - 1).bit_length()
    params: dict[str, Any] = {}
    for i in range(size):
        number, low, high = windows[i] if i < len(windows) else windows[0]
        params |= {f"number{i}": number, f"low{i}": low, f"high{i}": high}
    return _near_statement(size), params


@functools.cache
def _near_statement(size: int) -> Any:
    columns = [
        calls_t.c.call_uid,
        calls_t.c.origin_connection,
        calls_t.c.origin_external_id,
        calls_t.c.started_at,
        calls_t.c.duration_seconds,
        calls_t.c.data,
        calls_t.c.to_e164,
        calls_t.c.from_e164,
    ]
    terms = []
    for i in range(size):
        number: Any = sa.bindparam(f"number{i}")
        during = calls_t.c.started_at.between(sa.bindparam(f"low{i}"), sa.bindparam(f"high{i}"))
        terms.append(sa.and_(calls_t.c.to_e164 == number, during))
        terms.append(sa.and_(calls_t.c.from_e164 == number, during))
    return sa.select(*columns).where(sa.or_(*terms), calls_t.c.deleted_at.is_(None))
