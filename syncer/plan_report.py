"""How a dry run's plan is printed: per route and target, each action's count and examples,
and the mass-change guard's verdict where it would stop the target."""

from __future__ import annotations

from rich.table import Table

from syncer.plan import ACTIONS, SAMPLES, SyncPlan, TargetPlan


def as_table(plan: SyncPlan) -> Table:
    table = Table(title="dry run: nothing was written to any target")
    for column in ("route", "target", "action", "calls", "examples (call id: reason)"):
        table.add_column(column, overflow="fold")
    for (route, target), tally in sorted(plan.targets.items()):
        for action in ACTIONS:
            if not tally.counts[action]:
                continue
            examples = tally.samples.get(action, [])
            samples = "\n".join(f"{uid}: {why}" for uid, why in examples[:SAMPLES])
            if len(examples) > SAMPLES:  # every one is in --json
                samples += f"\n... and {len(examples) - SAMPLES} more"
            table.add_row(route, target, action, str(tally.counts[action]), samples)
        guard = _guard(tally)
        if guard is not None:
            table.add_row(route, target, "guard", "", guard, style="red" if tally.guard else None)
    if not plan.targets or not (plan.totals() or any(t.guard for t in plan.targets.values())):
        table.add_row("-", "-", "nothing to do", "0", "")
    return table


def _guard(tally: TargetPlan) -> str | None:
    """The mass-change guard's line: a trip the run would make, or --force; None: within."""
    if tally.forced:
        return "--force: the mass-change guard is not asked"
    if tally.guard is None:
        return None
    return f"would trip: {tally.guard['why']}"
