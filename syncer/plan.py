"""Dry runs: what a push *would* do, per route and target, without writing anything.

The planner (``syncer/planner.py``) makes every decision from the facts the
:class:`~syncer.push.Pusher` gathers (ledger row, twin search); given a :class:`TargetPlan`, the
pusher records that decision instead of carrying it out, once what only a read can tell is
known (a resolve with read-only look-ups that parks, a marker look-up of a write in doubt): no
request that writes, no ledger row. One place decides; this module only keeps the tally.

What a dry run cannot know: whether the target accepts a create or an update (a refusal, a
lost answer), and look-ups the target answers differently by the time of the real run. Two
routes carrying one real call into one target are linked in the plan as the real run links
them (:meth:`SyncPlan.sibling`), by the same twin rules on the calls planned so far.

Around each target the route's hooks (``syncer/deletions.py``) add what the real run would do
besides: whether the mass-change guard would stop the target (with its numbers; asked as the
real run asks, without recording a trip or using up a person's acceptance), and what the
route's ``deletions`` mode would do to each copy of a call deleted at the source (``delete``
or ``mark``, every one listed with the record's id; a linked twin is never among them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from syncer.model import Call
from syncer.store.twins import Tolerances, Twin, same_call

ACTIONS = (
    "create",
    "update",
    "link",
    "skip",
    "park",
    "adopt",
    "stale",
    "review",
    "fail",
    "delete",
    "mark",
)
SAMPLES = 3
EVERY_ONE = ("delete", "mark")  # what a deletion mode would do is listed call by call


@dataclass
class TargetPlan:
    """The actions planned for one route's calls in one target, with a few examples each."""

    target: str
    owner: SyncPlan
    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # The mass-change guard: the trip the run would make (why, and the numbers), or None.
    guard: dict[str, Any] | None = None
    forced: bool = False  # --force: the guard would not be asked

    def note(self, action: str, call: Call, reason: str) -> None:
        self.counts[action] += 1
        examples = self.samples.setdefault(action, [])
        if len(examples) < SAMPLES or action in EVERY_ONE:
            examples.append((call.call_uid, reason))
        if action in ("create", "link"):
            self.owner.planned.setdefault(self.target, []).append(call)

    def sibling(self, call: Call, tolerances: Tolerances) -> Twin | None:
        return self.owner.sibling(self.target, call, tolerances)


@dataclass
class SyncPlan:
    """Every route's plan, keyed by ``(route, target)``."""

    targets: dict[tuple[str, str], TargetPlan] = field(default_factory=dict)
    planned: dict[str, list[Call]] = field(default_factory=dict)  # target -> calls it gets

    def target(self, route: str, target: str) -> TargetPlan:
        return self.targets.setdefault((route, target), TargetPlan(target, self))

    def sibling(self, target: str, call: Call, tolerances: Tolerances) -> Twin | None:
        """A call of another source this plan already sends into ``target`` that is the same
        real call: the real run would find its ledger row and link, not create."""
        for other in self.planned.get(target, ()):
            if other.source.connection == call.source.connection:
                continue  # two records of one source are two calls
            if same_call(call, other, tolerances):
                return Twin(remote_id=None, sibling=other.call_uid, sibling_remote="(planned)")
        return None

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for plan in self.targets.values():
            total.update(plan.counts)
        return total
