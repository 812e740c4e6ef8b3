"""Pushing: write each routed call into each target exactly once, through the ledger.

Every (call, target) has one ledger row (``syncer/store/ledger.py``). Its states::

                      twin found ─────────────────────────────────────────┐
                          │                                               ▼
    (no row) ──claim──▶ in_doubt ──create answered──────────────────▶   done ──changed──▶ update
       ▲   parked/failed    │ ▲  ╲                                         ▲       │      │
       │   (nothing sent)   │ │   ╲ answer lost / 5xx / crash: stays        │  cannot│      │refused
       └────────────────────┘ │    ╲ in_doubt; the next attempt asks by     │ update ▼      ▼
           marker certainly   │     ╲ marker: found ─▶ adopted ─────────────┘     stale   failed
           absent: twin check,│      ╲ cannot tell (another user's record,          (remote kept:
           then a new create  │       ╲ look-alikes, look-ups keep failing)         never a new
                              │        ▼                                            create)
                              └── needs_review ── `callsync writes adopt|recreate|skip`

The rules that make it exactly once:
- **Intent first.** A row becomes ``in_doubt`` in a durable commit before a create leaves the
  machine (the creates of a chunk of calls share one such commit, ``syncer/push_chunks.py``:
  a crash leaves the whole chunk in doubt). From then on only a marker look-up may settle it:
  found -> adopted; certainly absent -> a new create (after a fresh twin check). Only a
  definite "never sent" (refused before sending, a 4xx answer, nothing resolved yet) leaves
  a row that allows a create without a look-up. Which answers are ambiguous is one rule in
  ``syncer/http`` for every connector.
- **A row with a remote id is never created again**: a refused update is retried as an update.
- **One writer per target.** Push into a target runs under a fenced lease (``push:<target>``),
  heartbeated while it runs; every ledger write checks the token, so a worker that lost its
  lease records nothing, and a second overlapping run skips the target and names its holder.
- **Stop at a write boundary.** A stop request (``syncer/stopping.py``) is checked before each
  call and each create: the write under way finishes and is recorded, the chunk's claimed
  creates not sent yet are recorded as not sent, the lease is released.
- **Twins are linked, not written.** Before every create (first try or retry), the target is
  searched for the same real call (``syncer/store/twins.py``); a match is recorded as
  ``matched`` and never written onto unless the route opts in (``write.update_twins``).
- **Back off.** Each failed attempt pushes the row's next attempt out (capped, jittered); rows
  that need a person wait in ``needs_review`` and cost nothing until settled.

What is not promised: a twin a rep logs by hand *after* callsync wrote the call is a second
record of it in the target; it is reported as a duplicate pair for review, never deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy.engine import Connection, Engine

from connectors.base import Connector, Parked, Resolved, WriteOptions
from syncer import accepted, planner, review_choice, stopping
from syncer.config import RouteConfig
from syncer.errors import (
    AmbiguousWriteError,
    AuthError,
    UnsettledWriteError,
    VendorError,
    VendorUnreachableError,
)
from syncer.heartbeat import LEASE_TTL, current_worker, held_lease
from syncer.http.retry import answer_is_ambiguous
from syncer.identities import known_missing
from syncer.model import Call
from syncer.plan import TargetPlan
from syncer.push_chunks import CHUNK_SIZE, Chunks
from syncer.push_facts import (
    may_create,
    planned_route,
    planned_row,
    written_fields,
)
from syncer.push_ledger import attempt_count
from syncer.push_recordings import Recordings
from syncer.push_stats import PushStats
from syncer.push_updates import Updates
from syncer.store import ledger
from syncer.store.database import durable_transaction
from syncer.store.leases import Fence
from syncer.store.ledger import (
    FAILED,
    IN_DOUBT,
    MATCHED,
    NEEDS_REVIEW,
    PARKED,
)
from syncer.store.twin_search import Neighbourhood, find_twin
from syncer.store.twins import Lookalikes, Tolerances

log = structlog.get_logger("callsync.push")

Matching = Tolerances  # how close two independently logged calls must be to be one call
MAX_FAILED_LOOKUPS = 5  # marker look-ups that fail in a row before a person is asked
# The next batch of (call, ledger row) after a call uid (``Pusher.each_call``).
Batch = Callable[[Connection, str], list[tuple[Call, Any]]]


class PushHooks(Protocol):
    """What a route adds around a target's push, under its lease (``syncer/deletions.py``).
    In a dry run (``pusher.plan`` set; no lease) they note what they would do instead."""

    def before(self, pusher: Pusher) -> None:
        """Before the first write; raising stops the target with nothing written."""

    def after(self, pusher: Pusher, stop: threading.Event) -> None:
        """After the routed calls were written (not after a stop request)."""


@dataclass
class Pusher(Updates, Recordings, Chunks):
    """Writes the calls of one route into one target."""

    engine: Engine
    route: RouteConfig
    target: Connector
    source: Connector | None = None  # to stream recordings the source holds itself
    matching: Tolerances = field(default_factory=Tolerances)
    stats: PushStats = field(default_factory=PushStats)
    # How a recording that is only a URL is fetched (tests serve bytes without a network).
    fetch_url: Callable[[str], AbstractContextManager[Iterator[bytes]]] | None = None
    owner: str = field(default_factory=current_worker)
    lease_ttl: timedelta = LEASE_TTL
    # A dry run: every decision is made as usual and recorded here instead of carried out
    # (no write request, no ledger row, no lease: ``fence`` refuses if anything tries).
    plan: TargetPlan | None = None
    hooks: PushHooks | None = None
    _fence: Fence | None = field(default=None, init=False, repr=False)
    # What the chunk under way shares (``syncer/push_chunks.py``):
    _deferred: list[dict[str, Any]] | None = field(default=None, init=False, repr=False)
    _neighbourhood: Neighbourhood | None = field(default=None, init=False, repr=False)
    _chosen_uids: set[str] | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.target.context.name

    @property
    def options(self) -> WriteOptions:
        return self.route.write.options()

    @property
    def fence(self) -> Fence:
        if self._fence is None:
            raise RuntimeError("push outside its lease")
        return self._fence

    def run(self, stop: threading.Event | None = None) -> PushStats:
        """Write the route's calls into the target until done or a stop is requested (checked
        before every call); raises :class:`LeaseBusyError` when another run holds it."""
        halt = stop or stopping.FLAG
        if self.plan is not None:  # no lease: the hooks only read, as the planner does
            self._hooked(halt)
            return self.stats
        with held_lease(self.engine, f"push:{self.name}", self.owner, self.lease_ttl) as fence:
            self._fence = fence
            try:
                self._hooked(halt)
            finally:
                self._fence = None
        return self.stats

    def _hooked(self, stop: threading.Event) -> None:
        if self.hooks is not None:
            self.hooks.before(self)
        self._run(stop)
        if self.hooks is not None and not self.stats.interrupted:
            self.hooks.after(self, stop)

    def _run(self, stop: threading.Event) -> None:
        source, target = self.route.source, self.name
        stale, twins = self.options.recreate_on_change, self.route.write.update_twins

        def routable(conn: Connection, after: str) -> list[tuple[Call, Any]]:
            return ledger.routable(
                conn, source, target, after=after, include_stale=stale, include_twins=twins
            )

        for chunk in self.each_chunk(routable):
            if not self._push_chunk(chunk, stop):
                return

    def each_chunk(self, batch: Batch) -> Iterator[list[tuple[Call, Any]]]:
        """Every (call, row) ``batch`` gives, in call uid order, in chunks of
        :data:`CHUNK_SIZE` (``batch(conn, after)``: the next rows after that uid)."""
        after = ""
        while True:
            with self.engine.connect() as conn:
                found = batch(conn, after)
            if not found:
                return
            after = found[-1][0].call_uid
            for start in range(0, len(found), CHUNK_SIZE):
                yield found[start : start + CHUNK_SIZE]

    def each_call(self, batch: Batch, stop: threading.Event) -> Iterator[tuple[Call, Any]]:
        """Every (call, row) ``batch`` gives, one by one; a stop request, checked before each
        call, ends it at a write boundary with the stats saying so."""
        for chunk in self.each_chunk(batch):
            for call, link in chunk:
                if stop.is_set():
                    self.stats.interrupted = True
                    return
                yield call, link

    def handle(self, call: Call, link: Any) -> None:
        self._execute(call, link, self.decide(call, link, link))

    # --- facts in, one decision out ---------------------------------------------------------

    def decide(self, call: Call, link: Any, row: Any) -> planner.Decision:
        """The planner's decision for ``call``, given ``row`` (its ledger row as the planner
        should see it: None once a marker look-up said the create certainly did not land)."""
        twin, alike, missing = self._fresh_facts(call) if may_create(row) else (None, (), None)
        facts = planner.Facts(
            call=call,
            route=self._route,
            target=planner.Target(
                self.name,
                self.target.kind,
                update=self.target.write_support.update,
                delete=self.target.write_support.delete,
            ),
            now=datetime.now(UTC),
            row=planned_row(row),
            twin=twin,
            ambiguous=alike,
            missing=missing,
            changed_at=self._changed_at(call, row),
        )
        return planner.plan(facts)

    def _changed_at(self, call: Call, row: Any) -> dict[str, datetime]:
        """When fields changed by accepted edits (only asked where an edit is to be weighed)."""
        if row is None or not row.target_edits:
            return {}
        with self.engine.connect() as conn:
            return accepted.changed_at(conn, call.call_uid)

    @property
    def _route(self) -> planner.Route:
        return planned_route(self.route)

    def _fresh_facts(
        self, call: Call
    ) -> tuple[planner.Twin | None, tuple[str, ...], planner.Missing | None]:
        """What the store knows of a call the target may lack (I/O: the store, never the
        target): its twin there, or the look-alikes it could be, or what it would miss."""
        near = self._neighbourhood
        if near is not None and near.knows(call):
            found = near.find(call)
        else:
            with self.engine.connect() as conn:
                found = find_twin(conn, self.name, call, self.matching)
        if isinstance(found, Lookalikes):
            return None, found.remote_ids, None
        if found is None and self.plan is not None:
            found = self.plan.sibling(call, self.matching)
        if found is not None:
            return planner.Twin(found.remote_id, found.sibling, found.sibling_remote), (), None
        cache = self.target.context.identities
        if cache is None:
            return None, (), None
        missing = known_missing(
            cache,
            self.target.kind,
            call,
            create_missing_contacts=self.options.create_missing_contacts,
        )
        return None, (), missing

    def _execute(self, call: Call, link: Any, decision: planner.Decision) -> None:
        """Carry ``decision`` out (a dry run notes it instead, once what only execution can
        learn is known: a resolve that parks, a marker look-up's answer)."""
        action = decision.action
        if action == "skip":
            self.stats.skipped += 1
            self._planned(call, decision)
            if decision.reconcile and self.plan is None:
                self._reconcile(call, link, decision)
        elif action == "review":
            evidence = {"candidates": list(decision.candidates)} if decision.candidates else None
            self._record(call, NEEDS_REVIEW, decision.reason, 1, evidence=evidence)
            self.stats.needs_review += 1
        elif action == "park":
            self._settle(call, link, PARKED, decision.reason)
        elif action == "link":
            self._link(call, decision)
        elif action == "settle":
            self._settle_doubt(call, link)
        elif action in ("update", "stale") or decision.recreate:
            self._rewrite(call, link, decision)
        else:
            self._fresh(call, link, decision)

    def _planned(self, call: Call, decision: planner.Decision) -> None:
        if self.plan is not None:
            self.plan.note(decision.action, call, decision.reason)

    # --- writing a call the target does not hold ------------------------------------------------

    def _fresh(self, call: Call, link: Any, decision: planner.Decision) -> None:
        """Resolve, durable intent, then the one create (the twin check was the planner's)."""
        resolved = self._resolve(call, link)
        if resolved is None:
            return
        if self.plan is not None:
            self.stats.created += 1
            self._planned(call, decision)
            return
        self._held(call)
        with durable_transaction(self.engine) as conn:
            ledger.claim(
                conn, self.fence, call.call_uid, self.name, call.call_uid, call.content_hash()
            )
        self._create(call, resolved, attempt_count(link))

    def _link(self, call: Call, decision: planner.Decision) -> None:
        self.stats.matched += 1
        if self.plan is not None:
            self._planned(call, decision)
            return
        twin = decision.twin
        assert twin is not None
        self._held(call)
        if twin.remote_id is not None and self._neighbourhood is not None:
            self._neighbourhood.linked(twin.remote_id)
        self._complete(call, twin.remote_id, kind=MATCHED, reason=decision.reason)

    def _resolve(self, call: Call, link: Any) -> Resolved | None:
        """The target's ids for the call, or None (parked or refused: recorded, nothing sent)."""
        try:
            resolved = self.target.resolve(self._chosen(call, link), self.options)
        except AuthError:
            raise  # the credentials are refused: every other call would be refused too
        except VendorError as error:
            self._settle(call, link, FAILED, f"{self.target.kind} look-up failed: {error.message}")
            return None
        if isinstance(resolved, Parked):
            reason = resolved.reason
            if resolved.candidates:
                reason += f" (candidates: {', '.join(resolved.candidates)})"
            self._settle(call, link, PARKED, reason)
            return None
        return resolved

    def _chosen(self, call: Call, link: Any) -> Call:
        """The call naming the person a reviewer chose for it here (``callsync review``)."""
        if not self.target.takes_chosen_person:
            return call
        if self._chosen_uids is not None and call.call_uid not in self._chosen_uids:
            return call  # the chunk read every choice: none for this call
        with self.engine.connect() as conn:
            return review_choice.with_choice(conn, self.name, self.target.kind, call)

    def _create(self, call: Call, resolved: Resolved, failures: int) -> None:
        try:
            written = self.target.create(call, call.call_uid, resolved)
        except AmbiguousWriteError as error:
            self._in_doubt(call, str(error), failures)
            return
        except VendorUnreachableError as error:
            # Refused before anything was sent: no look-up needed, and the target stops here.
            self._record(call, FAILED, f"not sent: {error}", failures)
            raise
        except AuthError as error:
            self._record(call, FAILED, f"not sent: {error}", failures)
            raise
        except VendorError as error:
            if answer_is_ambiguous(error.status):  # whatever the connector called it
                self._in_doubt(call, str(error), failures)
                return
            self._record(call, FAILED, f"{self.target.kind} refused the call: {error.message}", 1)
            self.stats.failed += 1
            return
        self._complete(call, written.remote_id, fields=written_fields(call, call))
        self.stats.created += 1
        self._attach_recording(call, written.remote_id)

    def _in_doubt(self, call: Call, answer: str, failures: int) -> None:
        log.warning("push.in_doubt", target=self.name, call=call.call_uid, error=answer)
        evidence = {
            "sent": "create",
            "marker": call.call_uid,
            "sent_hash": call.content_hash(),
            "answer": answer,
        }
        reason = f"the create may have landed ({answer}); the next attempt asks by marker"
        self._record(call, IN_DOUBT, reason, failures, evidence=evidence)
        self.stats.in_doubt += 1

    # --- settling a write that may have landed --------------------------------------------------

    def _settle_doubt(self, call: Call, link: Any) -> None:
        try:
            found = self.target.find_by_marker(call.call_uid, call)
        except AuthError:
            raise
        except UnsettledWriteError as error:
            evidence = {**(link.evidence or {}), "lookup": str(error), **error.evidence}
            self._record(call, NEEDS_REVIEW, str(error), 1, evidence=evidence)
            self.stats.needs_review += 1
            return
        except VendorError as error:
            attempts = attempt_count(link)
            state = NEEDS_REVIEW if attempts >= MAX_FAILED_LOOKUPS else IN_DOUBT
            reason = f"marker look-up failed ({attempts}x): {error.message}"
            self._record(call, state, reason, attempts, evidence=link.evidence)
            self.stats.needs_review += state == NEEDS_REVIEW
            return
        if found is not None and self.plan is not None:
            self.stats.adopted += 1
            self.plan.note("adopt", call, f"found by its marker as {found}")
            return
        if found is not None:
            self._complete(call, str(found), written_hash=ledger.sent_hash(link))
            self.stats.adopted += 1
            return
        # Certainly not there: planned again as a call the target lacks (twin check first).
        self._execute(call, link, self.decide(call, link, None))
