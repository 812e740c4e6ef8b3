"""Pushing a chunk of calls at once: intents in one durable commit, then the creates, then
their outcomes in one commit (the states and rules: ``syncer/push.py``).

A mixin of :class:`syncer.push.Pusher` (its attributes are the pusher's). For the calls of one
chunk (:data:`CHUNK_SIZE`, in ``call_uid`` order):

1. **Read what the decisions need, once**: the twin neighbourhood of every call
   (``syncer/store/twin_search.py``) and which calls a reviewer chose a person for.
2. **Decide and resolve each call** as one call at a time would. Calls the target lacks are
   resolved and kept for step 3; what sends nothing (a link to a twin, a park, a review, a
   skip) is recorded with the chunk's outcomes in step 5. Anything else (a marker look-up, an
   update, a recreate) is carried out at once, as before, with its own ledger writes.
3. **Intent first**: every resolved create of the chunk becomes ``in_doubt`` in one durable
   commit, before the first of them is sent. A crash from here on leaves them in doubt, and
   the marker look-up of the next run settles each (found: adopted; absent: created).
4. **The creates**, one request each; a stop request is honoured before each.
5. **Outcomes together**: the done rows, in-doubt answers and refusals of the chunk, and the
   decisions of step 2, in one commit; the identities the connector looked up are written
   with them (``syncer/identities.py``). Creates that were claimed but certainly not sent
   (a stop, or an error that stops the target) are recorded as "not sent", which allows the
   next run to create them without a look-up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from connectors.base import Connector, Resolved
from syncer import planner, review_choice
from syncer.identities import DatabaseIdentityCache
from syncer.model import Call
from syncer.push_ledger import LedgerWrites, attempt_count
from syncer.store import ledger, repo
from syncer.store.database import durable_transaction
from syncer.store.ledger import FAILED
from syncer.store.twin_search import Neighbourhood
from syncer.store.twins import Tolerances

CHUNK_SIZE = 50  # creates per durable intent commit: a crash leaves at most this many in doubt
# Decisions that send nothing: recorded with the chunk's outcomes.
DEFERRABLE = frozenset({"skip", "review", "park", "link"})
NOT_SENT = "not sent: the push stopped before this create (nothing was sent)"


@dataclass(frozen=True)
class _Create:
    call: Call
    link: Any
    resolved: Resolved


class Chunks(LedgerWrites):
    target: Connector
    matching: Tolerances
    _neighbourhood: Neighbourhood | None
    _chosen_uids: set[str] | None  # calls a reviewer chose a person for (None: not read)

    def decide(self, call: Call, link: Any, row: Any) -> planner.Decision:
        raise NotImplementedError

    def handle(self, call: Call, link: Any) -> None:
        raise NotImplementedError

    def _execute(self, call: Call, link: Any, decision: planner.Decision) -> None:
        raise NotImplementedError

    def _resolve(self, call: Call, link: Any) -> Resolved | None:
        raise NotImplementedError

    def _create(self, call: Call, resolved: Resolved, failures: int) -> None:
        raise NotImplementedError

    def _push_chunk(self, chunk: Sequence[tuple[Call, Any]], stop: threading.Event) -> bool:
        """Push the chunk's calls; False when a stop was requested (the chunk ends there)."""
        with self._prepared([call for call, _ in chunk]):
            if self.plan is not None:  # a dry run: the calls one by one, nothing written
                return self._one_by_one(chunk, stop)
            self._deferred = []
            try:
                with self._identities_deferred():
                    creates = self._decide_all(chunk, stop)
                    if creates and not self.stats.interrupted:
                        self._send(creates, stop)
            finally:
                rows, self._deferred = self._deferred, None
                if rows:
                    with self.engine.begin() as conn:
                        ledger.write_rows(conn, self.fence, rows)
        return not self.stats.interrupted

    def _one_by_one(self, chunk: Sequence[tuple[Call, Any]], stop: threading.Event) -> bool:
        for call, link in chunk:
            if stop.is_set():
                self.stats.interrupted = True
                return False
            self.handle(call, link)
        return True

    def _decide_all(
        self, chunk: Sequence[tuple[Call, Any]], stop: threading.Event
    ) -> list[_Create]:
        """Steps 2: the chunk's decisions; returns the resolved creates (none sent yet)."""
        creates: list[_Create] = []
        for call, link in chunk:
            if stop.is_set():
                self.stats.interrupted = True  # the resolved creates are dropped: none sent
                return []
            decision = self.decide(call, link, link)
            if decision.action == "create" and not decision.recreate:
                resolved = self._resolve(call, link)
                if resolved is not None:
                    self._held(call)
                    creates.append(_Create(call, link, resolved))
            elif decision.action in DEFERRABLE:
                self._execute(call, link, decision)
            else:
                self._at_once(call, link, decision)
        return creates

    def _at_once(self, call: Call, link: Any, decision: planner.Decision) -> None:
        """Carry out a decision with its own ledger writes, in the order it makes them."""
        deferred, self._deferred = self._deferred, None
        try:
            self._execute(call, link, decision)
        finally:
            self._deferred = deferred

    def _send(self, creates: list[_Create], stop: threading.Event) -> None:
        """Steps 3 and 4: the chunk's intents in one durable commit, then each create."""
        rows = [
            ledger.claim_row(c.call.call_uid, self.name, c.call.call_uid, c.call.content_hash())
            for c in creates
        ]
        with durable_transaction(self.engine) as conn:
            ledger.write_rows(conn, self.fence, rows)
        for index, create in enumerate(creates):
            if stop.is_set():
                self.stats.interrupted = True
                self._not_sent(creates[index:])
                return
            try:
                self._create(create.call, create.resolved, attempt_count(create.link))
            except BaseException:
                # This create may have left (it stays in doubt); the ones after it did not.
                self._not_sent(creates[index + 1 :])
                raise

    def _not_sent(self, creates: Sequence[_Create]) -> None:
        for create in creates:
            self._record(create.call, FAILED, NOT_SENT, attempt_count(create.link))

    # --- what the decisions read, once per chunk -------------------------------------------------

    @contextmanager
    def _prepared(self, calls: list[Call]) -> Iterator[None]:
        with self.engine.connect() as conn:
            self._neighbourhood = Neighbourhood.load(conn, self.name, calls, self.matching)
            self._chosen_uids = self._with_choices(conn, calls)
        try:
            yield
        finally:
            self._neighbourhood = None
            self._chosen_uids = None

    def _with_choices(self, conn: Any, calls: list[Call]) -> set[str] | None:
        """The chunk's calls a reviewer chose a person for (``review_choice.with_choice`` reads the
        choice of those; the others need no query)."""
        if not self.target.takes_chosen_person:
            return None
        keys = {review_choice.CHOICE_KEY.format(call.call_uid): call.call_uid for call in calls}
        stored = repo.get_state(conn, self.name, list(keys))
        return {keys[key] for key, value in stored.items() if value}

    def _held(self, call: Call) -> None:
        """``call`` is claimed or linked in the target: later twin searches see it so."""
        if self._neighbourhood is not None and self.plan is None:
            self._neighbourhood.held(call.call_uid)

    def _identities_deferred(self) -> Any:
        cache = self.target.context.identities
        return cache.deferred() if isinstance(cache, DatabaseIdentityCache) else nullcontext()
