"""How a dry run's plan is printed: per route and target, each action's count and examples."""

from __future__ import annotations

from rich.table import Table

from syncer.plan import ACTIONS, SyncPlan


def as_table(plan: SyncPlan) -> Table:
    table = Table(title="dry run: nothing was written to any target")
    for column in ("route", "target", "action", "calls", "examples (call id: reason)"):
        table.add_column(column, overflow="fold")
    for (route, target), tally in sorted(plan.targets.items()):
        for action in ACTIONS:
            if not tally.counts[action]:
                continue
            samples = "\n".join(f"{uid}: {why}" for uid, why in tally.samples.get(action, ()))
            table.add_row(route, target, action, str(tally.counts[action]), samples)
    if not plan.targets or not plan.totals():
        table.add_row("-", "-", "nothing to do", "0", "")
    return table
