"""What ``callsync status`` reports: per connection, its cursors, last runs and quarantine.

The JSON keeps everything; the table is for a person. A cursor there shows only its
timestamps, the part a person can read: the last full re-read (a key ending in ``swept_at``)
and, from the latest other timestamp, how far reading has got. The rest of a cursor (format
versions, page tokens, tie-breaking sets) is the connector's business.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import JustifyMethod
from rich.table import Table
from sqlalchemy.engine import Engine

from connectors.base import COVERAGE_STATE_KEY
from syncer import review_queue
from syncer.config import CallsyncConfig
from syncer.store import ledger, repo, review, runs


def collect(engine: Engine, config: CallsyncConfig) -> dict[str, Any]:
    """A JSON-ready report; connections in the config come first, in config order."""
    with engine.connect() as conn:
        cursors = repo.list_cursors(conn)
        last = runs.last_runs_by_kind(conn)
        quarantined = repo.quarantine_counts(conn)
        writes = ledger.counts(conn)
        waiting = {name: ledger.waiting(conn, name) for name in writes}
        backing_off = ledger.backing_off(conn)
        pairs = review.open_items(conn, review.DUPLICATE_PAIR)
        names = list(config.connections) + sorted(
            {name for name, _, _ in cursors} - set(config.connections)
        )
        gaps = {
            name: _not_covered(repo.get_state(conn, name, [COVERAGE_STATE_KEY])) for name in names
        }
        jobs = {n: repo.get_state(conn, n, ["daemon"]).get("daemon") for n in config.connections}
    report: dict[str, Any] = {
        "connections": [],
        "duplicate_pairs": [_pair(p) for p in pairs],
        "daemon_jobs": [job for job in jobs.values() if job],
        "review_waiting": review_queue.counts(engine, review_queue.tolerances_of(config)),
    }
    for name in names:
        by_kind = {kind: _run(row) for kind, row in last.get(name, {}).items()}
        report["connections"].append(
            {
                "name": name,
                "kind": config.connections[name].kind if name in config.connections else None,
                "cursors": [
                    {
                        "stream": stream,
                        "completed": state.completed,
                        "partial": state.partial,
                        "updated_at": state.updated_at,
                    }
                    for conn_name, stream, state in cursors
                    if conn_name == name
                ],
                "last_run": max(by_kind.values(), key=lambda run: run["id"], default=None),
                "last_runs": by_kind,
                "not_covered": gaps[name],
                "quarantined": quarantined.get(name, 0),
                "writes": writes.get(name, {}),
                "backing_off": backing_off.get(name, 0),
                "waiting_writes": [
                    {
                        "call_uid": row.call_uid,
                        "state": row.state,
                        "reason": row.reason,
                        "attempts": row.attempts,
                        "next_attempt_at": row.next_attempt_at,
                        "evidence": row.evidence,
                    }
                    for row in waiting.get(name, [])
                ],
            }
        )
    return report


def _not_covered(state: dict[str, Any]) -> list[str]:
    """What the connector said, on its last pull, the vendor's API does not let it read."""
    lines = (state.get(COVERAGE_STATE_KEY) or {}).get("not_covered")
    return [line for line in lines if isinstance(line, str)] if isinstance(lines, list) else []


def coverage_table(report: dict[str, Any]) -> Table | None:
    """Per connection, what callsync cannot read there (as its connector last reported)."""
    table = Table(title="not covered", title_justify="left")
    for column in ("connection", "what is not read"):
        table.add_column(column)
    for item in report["connections"]:
        for line in item["not_covered"]:
            table.add_row(item["name"], line)
    return table if table.row_count else None


def _run(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "stats": row.stats,
        "error": row.error,
    }


def _pair(item: Any) -> dict[str, Any]:
    return {
        "connection": item.connection,
        "logged_call": item.subject,
        "logged_remote": item.detail.get("logged_remote"),
        "copied_call": item.other,
        "copy_remote": item.detail.get("copy_remote"),
        "found_at": item.created_at,
    }


def duplicates_table(report: dict[str, Any]) -> Table | None:
    """Calls logged by hand in a target beside the copy callsync had written there: two
    records of one call that a person should merge (callsync deletes neither)."""
    table = Table(title="duplicate pairs for review", title_justify="left")
    for column in ("connection", "logged by hand", "callsync's copy", "found"):
        table.add_column(column)
    for pair in report["duplicate_pairs"]:
        table.add_row(
            pair["connection"],
            f"{pair['logged_remote']} (call {pair['logged_call']})",
            f"{pair['copy_remote']} (call {pair['copied_call']})",
            f"{pair['found_at']:%Y-%m-%d %H:%M:%S}",
        )
    return table if table.row_count else None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10 or "-" not in value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _when(stamp: datetime) -> str:
    return f"{stamp:%Y-%m-%d %H:%M:%S} UTC"


def _stamps(state: dict[str, Any], swept: bool) -> list[datetime]:
    """The cursor's timestamps: those of its full sweeps (``swept``) or the others."""
    found = []
    for key, value in state.items():
        stamp = _timestamp(value)
        if stamp is not None and key.endswith("swept_at") == swept:
            found.append(stamp)
    return found


def read_up_to(state: dict[str, Any]) -> datetime | None:
    """How far a completed cursor has read, as far as a person can tell: its latest timestamp
    that is not a full sweep's (None: the connector keeps its position in another form)."""
    return max(_stamps(state, swept=False), default=None)


def _position(state: dict[str, Any]) -> str:
    read = read_up_to(state)
    swept = _stamps(state, swept=True)
    parts = [f"read up to {_when(read)}"] if read else []
    parts += [f"last full sweep {_when(max(swept))}"] if swept else []
    return "; ".join(parts) or "read (position kept by the connector)"


def _cursor_text(cursors: list[dict[str, Any]]) -> str:
    if not cursors:
        return "never read"
    lines = []
    for cursor in cursors:
        position = _position(cursor["completed"]) if cursor["completed"] else "first read"
        suffix = ", an interrupted pull resumes" if cursor["partial"] else ""
        lines.append(f"{cursor['stream']}: {position}{suffix}")
    return "\n".join(lines)


def _run_text(runs: dict[str, dict[str, Any]]) -> str:
    if not runs:
        return "none yet"
    lines = []
    for run in runs.values():
        when = run["finished_at"] or run["started_at"]
        lines.append(f"{run['kind']} {run['status']} at {when:%Y-%m-%d %H:%M:%S} UTC")
        if run["error"]:
            lines.append(f"  {run['error']}")
    return "\n".join(lines)


def as_table(report: dict[str, Any]) -> Table:
    table = Table(title="callsync status", title_justify="left")
    for column in ("connection", "kind", "cursors", "last run", "quarantined", "writes in"):
        justify: JustifyMethod = "right" if column == "quarantined" else "left"
        table.add_column(column, justify=justify, overflow="fold")
    for item in report["connections"]:
        table.add_row(
            item["name"],
            item["kind"] or "?",
            _cursor_text(item["cursors"]),
            _run_text(item["last_runs"]),
            str(item["quarantined"]),
            _writes_text(item),
        )
    return table


def _writes_text(item: dict[str, Any]) -> str:
    counts = sorted(item["writes"].items())
    text = ", ".join(f"{state.replace('_', ' ')} {n}" for state, n in counts) or "-"
    if item["backing_off"]:
        text += f"\n{item['backing_off']} backing off"
    return text


_WAITING = (ledger.IN_DOUBT, ledger.PARKED, ledger.FAILED, ledger.STALE, ledger.NEEDS_REVIEW)


def _next_attempt(row: dict[str, Any], now: datetime) -> str:
    if row["state"] == ledger.NEEDS_REVIEW:
        return "needs a person"
    when = row["next_attempt_at"]
    if when is None:
        return "next run"
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    return f"backing off until {_when(when)}" if when > now else "next run"


def waiting_table(report: dict[str, Any]) -> Table | None:
    """Writes that did not land (in doubt, needs review, parked, failed, stale) with why and
    when they are tried next; None when there are none."""
    table = Table(title="writes waiting", title_justify="left")
    for column in ("target", "state", "call", "attempts", "next attempt", "reason"):
        table.add_column(column, overflow="fold")
    now = datetime.now(UTC)
    for item in report["connections"]:
        for row in item["waiting_writes"]:
            table.add_row(
                item["name"],
                row["state"].replace("_", " "),
                row["call_uid"],
                str(row["attempts"]),
                _next_attempt(row, now),
                row["reason"] or "",
            )
        hidden = sum(item["writes"].get(state, 0) for state in _WAITING)
        hidden -= len(item["waiting_writes"])
        if hidden > 0:
            more = f"callsync writes list --target {item['name']}"
            table.add_row(item["name"], f"and {hidden} more", f"(see {more})", "", "", "")
    return table if table.row_count else None


def review_table(report: dict[str, Any]) -> Table | None:
    """How many items wait for a person, per kind (``callsync review list`` shows them)."""
    waiting = report.get("review_waiting") or {}
    if not waiting:
        return None
    table = Table(title="waiting for review (callsync review list)", title_justify="left")
    table.add_column("kind")
    table.add_column("items", justify="right")
    for kind, count in sorted(waiting.items()):
        table.add_row(kind.replace("_", " "), str(count))
    return table


def daemon_table(report: dict[str, Any]) -> Table | None:
    """The scheduled jobs of ``callsync run`` as it last recorded them (None: never ran)."""
    jobs = report.get("daemon_jobs") or []
    if not jobs:
        return None
    table = Table(title="callsync run: scheduled jobs")
    for column in ("connection", "every", "last ok", "failures", "next attempt", "last error"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(
            job["connection"],
            f"{job['every_seconds']:g} s",
            job.get("last_ok") or "never",
            str(job.get("failures", 0)),
            job.get("next_attempt") or "on schedule",
            job.get("last_error") or "",
        )
    return table
