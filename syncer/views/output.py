"""Printing a :class:`~syncer.views.summary.RunSummary` in the mode the user chose.

- default: the plain lines (problems on stderr), the summary tables and a dry run's plan on
  stdout, then a one-line verdict;
- ``--quiet``: only the problem lines and the verdict;
- ``--json``: one JSON object on stdout, nothing else there (problems still on stderr).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from enum import Enum
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from syncer import plan_report
from syncer.views.summary import RunSummary

WIDTH = 160


class Mode(Enum):
    NORMAL = "normal"
    QUIET = "quiet"
    JSON = "json"


def mode_of(quiet: bool, as_json: bool) -> Mode:
    if as_json:
        return Mode.JSON
    return Mode.QUIET if quiet else Mode.NORMAL


def emit(summary: RunSummary, mode: Mode) -> None:
    for line in summary.lines:
        if line.problem or mode is Mode.NORMAL:
            click.echo(line.text, err=line.problem)
    if mode is Mode.JSON:
        click.echo(json.dumps(as_json(summary), indent=2, default=str))
        return
    if mode is Mode.NORMAL:
        console = Console(width=WIDTH)
        for table in tables(summary):
            console.print(table)
    click.echo(verdict(summary), err=not summary.ok)


def verdict(summary: RunSummary) -> str:
    """The last line: ok, or which parts failed (each named above with the vendor's answer)."""
    if summary.ok:
        read = sum(row.read for row in summary.connections)
        created = sum(row.stats.created for row in summary.targets)
        written = "" if summary.plan is not None else f", {created} created"
        return (
            f"{summary.command}: ok ({len(summary.connections)} connections, {read} calls read"
            f"{written}{', dry run' if summary.plan is not None else ''})"
        )
    return f"{summary.command}: failed: {'; '.join(summary.failures)}"


def tables(summary: RunSummary) -> list[Table]:
    found = [connections_table(summary)] if summary.connections else []
    if summary.targets and summary.plan is None:
        found.append(targets_table(summary))
    if summary.plan is not None:
        found.append(plan_report.as_table(summary.plan))
    return found


# Several runs in one table (the demo's backfill and cycles): (run label, its summary).
Runs = Sequence[tuple[str, RunSummary]]


def connections_table(summary: RunSummary) -> Table:
    return connections_by_run(f"{summary.command}: connections", [("", summary)])


def targets_table(summary: RunSummary) -> Table:
    return targets_by_run(f"{summary.command}: route targets", [("", summary)])


def connections_by_run(title: str, runs: Runs) -> Table:
    """Per connection of each run: calls read, stored, quarantined, deleted, requests, seconds
    and status; a ``run`` column first when the runs are labelled."""
    labelled = any(label for label, _ in runs)
    rows = [(label, row) for label, summary in runs for row in summary.connections]
    windows = any(row.windows is not None for _, row in rows)
    table = Table(title=title)
    columns = [*(["run"] if labelled else []), "connection", *(["windows"] if windows else [])]
    columns += ["read", "stored", "quarantined", "deleted", "requests", "seconds", "status"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for label, row in rows:
        counts = [row.read, row.stored, row.quarantined, row.deleted, row.requests]
        table.add_row(
            *([label] if labelled else []),
            row.name,
            *([row.windows or ""] if windows else []),
            *map(str, counts),
            f"{row.seconds:.1f}",
            row.status,
            style=None if row.ok else "red",
        )
    return table


def targets_by_run(title: str, runs: Runs) -> Table:
    """What moved where: per route target of each run, the calls created, updated, linked to a
    twin, parked, in doubt and failed, and the status (adopted, needing review, stale)."""
    labelled = any(label for label, _ in runs)
    table = Table(title=title)
    columns = [*(["run"] if labelled else []), "route", "target", "created", "updated"]
    for column in (*columns, "linked", "parked", "in doubt", "failed", "status"):
        table.add_column(column, overflow="fold")
    for label, summary in runs:
        for row in summary.targets:
            s = row.stats
            counts = [s.created, s.updated, s.matched, s.parked, s.in_doubt, s.failed]
            cells = [*([label] if labelled else []), row.route, row.target, *map(str, counts)]
            table.add_row(*cells, row.status, style=None if row.ok else "red")
    return table


def as_json(summary: RunSummary) -> dict[str, Any]:
    plan = summary.plan
    return {
        "command": summary.command,
        "ok": summary.ok,
        "interrupted": summary.interrupted,
        "dry_run": plan is not None,
        "failures": summary.failures,
        "connections": [asdict(row) for row in summary.connections],
        "targets": [
            {"route": r.route, "target": r.target, "status": r.status, "ok": r.ok}
            | {"linked": r.stats.matched}
            | r.stats.as_dict()
            for r in summary.targets
        ],
        "plan": None
        if plan is None
        else [
            {"route": route, "target": target, "counts": dict(t.counts), "examples": t.samples}
            | {"guard": t.guard, "forced": t.forced}
            for (route, target), t in sorted(plan.targets.items())
        ],
    }
