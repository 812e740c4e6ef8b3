"""The planner: for one call and one target of one route, the one thing a push does, and why.

Pure: plain values in (:class:`Facts`, gathered by :class:`syncer.push.Pusher` from the store
and the twin search), one :class:`Decision` out; no I/O. The pusher executes the decision, and
a dry run (``sync --dry-run``) prints exactly these decisions. What only a request can reveal
stays with the executor: a resolve that parks, a target that refuses a field, a marker look-up.

Order of the questions (the first that answers decides):
1. filtered out by the route, or an echo of callsync's own copy -> skip;
2. a person must decide (``needs_review``) -> review; a person skipped it -> skip;
3. a failed or parked attempt whose backoff has not passed -> skip;
4. the target holds the call (a remote id) -> update (the fields that change), stale (the
   target cannot change it), create (``recreate_on_change``: delete and log again), or skip
   (nothing to write, a target edit kept, a hand-logged twin left alone);
5. a create may have landed (``in_doubt``) -> settle (ask the target by marker);
6. nothing of the call is in the target -> link (a twin holds it), review (several could),
   park (the person or user is known missing), or create.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncer import conflicts
from syncer.model import Call, Direction, Outcome

# Ledger states and kinds (``syncer/store/ledger.py``), repeated: this module imports no store.
IN_DOUBT, DONE, PARKED, FAILED, STALE = "in_doubt", "done", "parked", "failed", "stale"
NEEDS_REVIEW, SKIPPED = "needs_review", "skipped"
WRITTEN, MATCHED = "written", "matched"

ACTIONS = ("create", "update", "link", "stale", "skip", "settle", "park", "review")


@dataclass(frozen=True)
class Filters:
    """A route's ``filters`` (None: that filter is not set)."""

    outcomes: frozenset[Outcome] | None = None
    directions: frozenset[Direction] | None = None
    min_duration_seconds: int | None = None
    user_emails: frozenset[str] | None = None  # lower-case


@dataclass(frozen=True)
class Route:
    source: str
    filters: Filters = field(default_factory=Filters)
    update_twins: bool = False
    recreate_on_change: bool = False
    policy: conflicts.Policy = field(default_factory=conflicts.Policy)


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    update: bool = False
    delete: bool = False


@dataclass(frozen=True)
class Row:
    """The call's ledger row in the target."""

    state: str
    kind: str = WRITTEN
    remote_id: str | None = None
    written_hash: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    basis: Mapping[str, str] | None = None  # None: written before field-level records
    held: Mapping[str, Any] = field(default_factory=dict)
    edits: conflicts.Edits = field(default_factory=conflicts.Edits)


@dataclass(frozen=True)
class Twin:
    """The target's record of the same real call: its own (``remote_id``), or a sibling's."""

    remote_id: str | None
    sibling: str | None = None
    sibling_remote: str | None = None


@dataclass(frozen=True)
class Missing:
    """The target is known (from the store's cache) to lack what the call hangs on."""

    reason: str
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facts:
    call: Call
    route: Route
    target: Target
    now: datetime
    row: Row | None = None
    twin: Twin | None = None
    ambiguous: tuple[str, ...] = ()  # several target records could be this call
    missing: Missing | None = None
    echo: bool = False
    # When fields of the call last changed by a target's edit accepted as the call's value
    # (``conflicts.Override``), not by its source: "latest" compares those times.
    changed_at: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    fields: tuple[str, ...] = ()  # update: what changes; stale: what the target cannot change
    keep: Mapping[str, Any] = field(default_factory=dict)  # fields the target keeps, by value
    kept_edits: tuple[str, ...] = ()
    recreate: bool = False  # create: delete the old copy first
    twin: Twin | None = None
    candidates: tuple[str, ...] = ()  # review, park: what a person chooses among
    # skip: the target holds what the call should be there (a kept edit, an owned field, no
    # field changed): the ledger records the call as reconciled, so it is not planned again.
    reconcile: bool = False


def passes(filters: Filters, call: Call) -> bool:
    """Whether the route's filters let ``call`` through."""
    if filters.outcomes is not None and call.outcome not in filters.outcomes:
        return False
    if filters.directions is not None and call.direction not in filters.directions:
        return False
    if (
        filters.min_duration_seconds is not None
        and (call.duration_seconds or 0) < filters.min_duration_seconds
    ):
        return False
    if filters.user_emails is not None:
        email = (call.user.email or "").lower() if call.user else ""
        return email in filters.user_emails
    return True


def plan(facts: Facts) -> Decision:
    """The one decision for ``facts`` (see the module docstring for the order)."""
    if not passes(facts.route.filters, facts.call):
        return Decision("skip", "filtered out by the route")
    if facts.echo or facts.call.copy_of is not None:
        return Decision("skip", "echo: callsync's own copy in the source")
    row = facts.row
    if row is None:
        return _fresh(facts)
    if row.state == NEEDS_REVIEW:
        return Decision("review", "waits for a person (callsync writes)")
    if row.state == SKIPPED:
        return Decision("skip", "skipped by a person")
    if row.state != DONE and row.next_attempt_at is not None and row.next_attempt_at > facts.now:
        return Decision("skip", f"waiting for backoff until {row.next_attempt_at:%H:%M:%S}")
    if row.remote_id is not None:
        return _rewrite(facts, row)
    if row.state == IN_DOUBT:
        return Decision("settle", "the create may have landed: ask the target by marker")
    if row.state == DONE:  # held as a sibling's record
        return Decision("skip", "unchanged: held in the target as another call's record")
    return _fresh(facts)  # parked or failed: nothing of this call reached the target


def _fresh(facts: Facts) -> Decision:
    if facts.twin is not None:
        twin = facts.twin
        if twin.remote_id is not None:
            reason = "matched a call logged independently in the target"
        else:
            reason = (
                f"held in the target as {twin.sibling_remote}, the record of call {twin.sibling}"
            )
        return Decision("link", reason, twin=twin)
    if facts.ambiguous:
        reason = f"could be any of {', '.join(facts.ambiguous)} in the target"
        return Decision("review", reason, candidates=facts.ambiguous)
    if facts.missing is not None:
        reason = facts.missing.reason
        if facts.missing.candidates:
            reason += f" (candidates: {', '.join(facts.missing.candidates)})"
        return Decision("park", reason, candidates=facts.missing.candidates)
    return Decision("create", "not in the target yet")


def _rewrite(facts: Facts, row: Row) -> Decision:
    # A twin is written onto when the route says so, or when a person chose to (``callsync
    # review`` update-twin leaves the row failed with its remote id, to be updated once).
    if row.kind == MATCHED and row.state == DONE and not facts.route.update_twins:
        return Decision("skip", "a call a rep logged in the target: linked, left alone")
    changes = _changes(facts, row)
    if isinstance(changes, Decision):
        return changes
    fields, keep, kept = changes
    target = facts.target
    if target.update:
        return Decision(
            "update", f"changed: {', '.join(fields)}", fields=fields, keep=keep, kept_edits=kept
        )
    # An edit kept in the target still becomes the call's change (the recreated copy carries
    # it; a stale copy already holds it): the decision names it as an update would.
    if facts.route.recreate_on_change and target.delete and row.kind == WRITTEN:
        reason = f"changed: {row.remote_id} deleted and recreated"
        return Decision("create", reason, fields=fields, keep=keep, kept_edits=kept, recreate=True)
    # Legacy rows cannot tell which field changed: the whole call is what cannot be changed.
    stale = fields if row.basis is not None else ("call",)
    reason = f"changed, and {target.kind} cannot update calls"
    return Decision("stale", reason, fields=stale, keep=keep, kept_edits=kept)


def _changes(
    facts: Facts, row: Row
) -> Decision | tuple[tuple[str, ...], Mapping[str, Any], tuple[str, ...]]:
    """The fields an update writes (with what it keeps), or the skip when there are none."""
    call = facts.call
    if row.basis is None:  # written before field-level records: compare the whole call
        if row.written_hash == call.content_hash() and row.state == DONE:
            return Decision("skip", "unchanged since it was written", reconcile=True)
        return conflicts.FIELDS, {}, ()
    policy = facts.route.policy
    resolution = conflicts.resolve(
        call, row.basis, row.held, row.edits, policy, facts.target.name, facts.changed_at
    )
    if resolution.write:
        return resolution.write, resolution.keep, resolution.kept_edits
    if resolution.kept_edits:
        kept = ", ".join(resolution.kept_edits)
        reason = f"unchanged: edited in the target ({kept}), kept"
        return Decision(
            "skip",
            reason,
            keep=resolution.keep,
            kept_edits=resolution.kept_edits,
            reconcile=True,
        )
    if resolution.refused:
        owned = ", ".join(resolution.refused)
        return Decision(
            "skip", f"unchanged: {owned} never overwritten in the target", reconcile=True
        )
    return Decision("skip", "unchanged since it was written", reconcile=True)
