"""What the demo shows: per run (the backfill, then each cycle) what was read from each tool
and what moved into each target, then what waits and why (parked writes, quarantined
records), as rich tables, one JSON document, or one line. A run is summed up and its tables
drawn by the views ``backfill`` and ``sync`` print through (``syncer/views``), so "what moved
where" has one rendering."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from syncer.demo.cycles import DemoRun
from syncer.demo.scenario import Happened
from syncer.store import ledger, repo
from syncer.store.ledger import links_t
from syncer.store.repo import sources_t as source_records_t
from syncer.views import output, summary
from syncer.views.summary import RunSummary

# The counts of a run kept in the demo's JSON (its tables are the shared views').
READ_FIELDS = ("records", "stored", "quarantined", "deleted")
WRITE_FIELDS: tuple[str, ...] = ("created", "matched", "updated", "stale", "parked", "adopted")
WRITE_FIELDS += ("failed", "in_doubt", "needs_review")


@dataclass(frozen=True)
class Shown:
    """One run of the demo (the backfill or a cycle) as ``backfill`` and ``sync`` sum it up."""

    name: str
    happened: Happened
    summary: RunSummary


def shown_runs(run: DemoRun) -> list[Shown]:
    found = []
    if run.backfill is not None:
        loaded = summary.of_backfill(run.backfill, False)
        found.append(Shown("backfill", run.malformed, _unnumbered(loaded)))
    for number, cycle in enumerate(run.cycles, 1):
        synced = summary.of_sync("sync", cycle.report)
        found.append(Shown(f"cycle {number}", cycle.happened, _unnumbered(synced)))
    return found


def _unnumbered(run: RunSummary) -> RunSummary:
    # sync numbers its routes (two may share a source), backfill does not: one name a route.
    targets = [replace(row, route=re.sub(r"^\d+: ", "", row.route)) for row in run.targets]
    return replace(run, targets=targets)


def runs_of(shown: list[Shown]) -> list[dict[str, Any]]:
    """Each run as plain data: what happened before it, what it read, what it wrote."""
    return [
        {
            "run": item.name,
            "happened": item.happened.as_dict(),
            "reads": {
                row.name: dict(zip(READ_FIELDS, (row.read, row.stored, row.quarantined,
                                                 row.deleted), strict=True))
                for row in item.summary.connections
            },
            "writes": _writes(item.summary),
        }
        for item in shown
    ]  # fmt: skip


def _writes(run: RunSummary) -> dict[str, dict[str, dict[str, int]]]:
    found: dict[str, dict[str, dict[str, int]]] = {}
    for row in run.targets:
        counts = {key: getattr(row.stats, key) for key in WRITE_FIELDS}
        found.setdefault(row.route, {})[row.target] = counts
    return found


def waiting(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Writes parked (and other writes that did not land) and records quarantined, with why."""
    with engine.connect() as conn:
        writes = ledger.rows(conn, ("parked", "failed", "needs_review", "in_doubt"), None, 500)
        held = repo.open_quarantine(conn)
    return {
        "writes": [
            {"target": r.target_connection, "call_uid": r.call_uid, "state": r.state,
             "reason": r.reason}
            for r in writes
        ],
        "quarantined": [
            {"connection": q.connection, "external_id": q.record_key, "reason": q.reason}
            for q in held
        ],
    }  # fmt: skip


def outcome(engine: Engine) -> dict[str, Any]:
    """Where things stand at the end, from the store: per target, its writes by state and
    kind (``done written``: a record callsync made; ``done matched``: linked to a twin), the
    records quarantined and the deletions seen per connection."""
    with engine.connect() as conn:
        links = conn.execute(
            sa.select(
                links_t.c.target_connection, links_t.c.state, links_t.c.kind, sa.func.count()
            ).group_by(links_t.c.target_connection, links_t.c.state, links_t.c.kind)
        ).all()
        records = conn.execute(
            sa.select(
                source_records_t.c.connection,
                sa.func.count(),
                sa.func.count(source_records_t.c.deleted_at),
            ).group_by(source_records_t.c.connection)
        ).all()
        quarantined = repo.quarantine_counts(conn)
    targets: dict[str, dict[str, int]] = {}
    for target, state, kind, count in links:
        key = "created" if (state, kind) == ("done", "written") else state
        key = "linked" if (state, kind) == ("done", "matched") else key
        targets.setdefault(target, Counter())[key] += count
    return {
        "targets": {name: dict(counts) for name, counts in targets.items()},
        "connections": {
            name: {"stored": stored, "deleted": deleted, "quarantined": quarantined.get(name, 0)}
            for name, stored, deleted in records
        },
    }


def totals(runs: list[dict[str, Any]], end: dict[str, Any]) -> dict[str, int]:
    """The final line's numbers: updates from the runs, everything else as it stands."""
    total: Counter[str] = Counter()
    for counts in end["targets"].values():
        total.update(counts)
    for counts in end["connections"].values():
        total.update(counts)
    total["updated"] = sum(
        stats["updated"]
        for item in runs
        for targets in item["writes"].values()
        for stats in targets.values()
    )
    return dict(total)


def final_line(total: dict[str, int], seconds: float) -> str:
    return (
        f"callsync demo: {total.get('stored', 0)} records read; {total.get('created', 0)} "
        f"written into targets, {total.get('linked', 0)} linked as twins, "
        f"{total.get('updated', 0)} updated, {total.get('parked', 0)} parked, "
        f"{total.get('quarantined', 0)} quarantined, {total.get('deleted', 0)} deletions seen; "
        f"{seconds:.0f} s"
    )


def _happened(happened: Happened) -> str:
    counts = {"arrived": happened.arrived, "edited": happened.edited, "deleted": happened.deleted}
    parts = [f"{len(done)} {what}" for what, done in counts.items() if done]
    if happened.malformed:
        parts.append(f"{len(happened.malformed)} malformed records added")
    return ", ".join(parts) or "nothing new"


def print_runs(console: Console, shown: list[Shown]) -> None:
    """What reps did before each run, then what each run read and what moved where, in the
    tables ``backfill`` and ``sync`` print (a row per run and connection, or target)."""
    before = Table(title="Before each run, in the tools", title_justify="left")
    for column in ("run", "in the tools"):
        before.add_column(column)
    for item in shown:
        before.add_row(item.name, _happened(item.happened))
    runs = [(item.name, item.summary) for item in shown]
    console.print(before)
    console.print(output.connections_by_run("What was read from each tool", runs))
    console.print(output.targets_by_run("What moved where", runs))


def print_waiting(console: Console, found: dict[str, list[dict[str, Any]]]) -> None:
    reasons: Counter[tuple[str, str, str]] = Counter(
        (w["target"], w["state"], w["reason"] or "") for w in found["writes"]
    )
    if reasons:
        table = Table(title="Writes waiting, and why", title_justify="left")
        for column in ("target", "state", "reason", "calls"):
            table.add_column(column)
        for (target, state, reason), count in sorted(reasons.items()):
            table.add_row(target, state, reason, str(count))
        console.print(table)
    if found["quarantined"]:
        table = Table(title="Quarantined on read, and why", title_justify="left")
        for column in ("connection", "record", "reason"):
            table.add_column(column)
        for held in found["quarantined"]:
            table.add_row(held["connection"], held["external_id"], held["reason"])
        console.print(table)
