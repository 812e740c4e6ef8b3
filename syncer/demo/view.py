"""What the demo shows: per run (the backfill, then each cycle) what was read from each tool
and what moved into each target, then what waits and why (parked writes, quarantined
records), as rich tables, one JSON document, or one line."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from syncer.demo.cycles import DemoRun
from syncer.demo.scenario import Happened
from syncer.pull import PullResult, StreamStats
from syncer.push_stats import PushStats
from syncer.store import ledger, repo
from syncer.store.ledger import links_t
from syncer.store.repo import sources_t as source_records_t

# PushStats fields as the demo names them, in the order shown.
WRITE_COLUMNS = {
    "created": "created",
    "matched": "linked as twin",
    "updated": "updated",
    "stale": "cannot update",
    "parked": "parked",
    "adopted": "adopted",
    "failed": "failed",
    "in_doubt": "in doubt",
    "needs_review": "needs review",
}
READ_FIELDS = ("records", "stored", "quarantined", "deleted")


def _route(name: str) -> str:
    return re.sub(r"^\d+: ", "", name)  # sync numbers its routes, backfill does not


def _reads(streams: list[StreamStats]) -> dict[str, int]:
    return {name: sum(getattr(s, name) for s in streams) for name in READ_FIELDS}


def _pushes(pushes: dict[str, dict[str, PushStats]]) -> dict[str, dict[str, dict[str, int]]]:
    return {
        _route(route): {
            target: {key: getattr(stats, key) for key in WRITE_COLUMNS}
            for target, stats in targets.items()
        }
        for route, targets in pushes.items()
    }


def runs_of(run: DemoRun) -> list[dict[str, Any]]:
    """Each run as plain data: what happened before it, what it read, what it wrote."""
    found: list[dict[str, Any]] = []
    if run.backfill is not None:
        loads = {name: _reads([stats.pull]) for name, stats in run.backfill.loads.items()}
        found.append(_run("backfill", run.malformed, loads, _pushes(run.backfill.pushes)))
    for number, cycle in enumerate(run.cycles, 1):
        reads = {
            name: _reads(list(result.streams.values()))
            for name, result in cycle.report.pulls.items()
            if isinstance(result, PullResult)
        }
        found.append(_run(f"cycle {number}", cycle.happened, reads, _pushes(cycle.report.pushes)))
    return found


def _run(name: str, happened: Happened, reads: Any, writes: Any) -> dict[str, Any]:
    return {"run": name, "happened": happened.as_dict(), "reads": reads, "writes": writes}


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


def _happened(item: dict[str, Any]) -> str:
    happened = item["happened"]
    keys = ("arrived", "edited", "deleted")
    parts = [f"{len(happened[key])} {key}" for key in keys if happened[key]]
    if happened["malformed"]:
        parts.append(f"{len(happened['malformed'])} malformed records added")
    return ", ".join(parts) or "nothing new"


def print_runs(console: Console, runs: list[dict[str, Any]]) -> None:
    reads = Table(title="What was read from each tool", title_justify="left")
    for column in ("run", "before it, in the tools", "connection", "read", "stored",
                   "quarantined", "deletions seen"):  # fmt: skip
        reads.add_column(column)
    writes = Table(title="What moved where", title_justify="left")
    for column in ("run", "route", "target", *WRITE_COLUMNS.values()):
        writes.add_column(column)
    for item in runs:
        for index, (name, got) in enumerate(item["reads"].items()):
            before = _happened(item) if index == 0 else ""
            reads.add_row(item["run"], before, name, *(str(got[k]) for k in READ_FIELDS))
        for route, targets in item["writes"].items():
            for target, stats in targets.items():
                cells = [str(stats[key] or "") for key in WRITE_COLUMNS]
                writes.add_row(item["run"], route, target, *cells)
    console.print(reads)
    console.print(writes)


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
