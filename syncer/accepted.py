"""Edits made in a target that became changes of the canonical call (the rules, per route
policy: ``syncer/conflicts.py``; the rows: ``syncer/store/overrides.py``).

Two places apply them, each in the caller's transaction and on the call's locked row, so a pull
of the source and a push that accepts an edit never store a call without the other's change:

- :func:`on_store`: every path that stores calls read from their source (a pull's page, the
  re-mapping of incomplete calls, the quarantine replay) stores each with its overrides that
  still hold; a source change of the field later than the edit wins one back (it is dropped);
- :func:`accept`: a push that keeps an edit in its target (``Decision.kept_edits``) makes it
  the call's value, so the call's content hash changes and its other targets are updated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from syncer import conflicts
from syncer.model import Call
from syncer.store import overrides, repo


def on_store(conn: Connection, calls: Sequence[Call]) -> list[Call]:
    """``calls`` (as their source says them) as the store keeps them: with the overrides that
    still hold; those the source won back are dropped."""
    if not calls:
        return []
    repo.lock_calls(conn, [call.call_uid for call in calls])
    found = overrides.of_calls(conn, [call.call_uid for call in calls])
    stored: list[Call] = []
    for call in calls:
        current = found.get(call.call_uid)
        if not current:
            stored.append(call)
            continue
        merged, held = conflicts.apply(call, current)
        if held != current:
            overrides.replace(conn, call.call_uid, held)
        stored.append(merged)
    return stored


def accept(
    conn: Connection,
    call_uid: str,
    kept: Mapping[str, Any],
    at: datetime | None,
    target: str,
    policy: conflicts.Policy,
) -> dict[str, Any]:
    """Make the edits ``kept`` in ``target`` (field -> value) changes of the canonical call, as
    stored now (a pull may have changed it since the caller read it); the fields that changed."""
    call = repo.locked_call(conn, call_uid)
    if call is None:
        return {}
    current = overrides.of_calls(conn, [call_uid]).get(call_uid, [])
    new = conflicts.accepted(call, kept, at, target, policy, current)
    if not new:
        return {}
    overrides.save(conn, call_uid, new)
    values = {override.field: override.value for override in new}
    repo.rewrite_content(conn, conflicts.with_values(call, values))
    return values


def changed_at(conn: Connection, call_uid: str) -> dict[str, datetime]:
    """When the call's fields last changed by an accepted edit (field -> the edit's time)."""
    found = overrides.of_calls(conn, [call_uid]).get(call_uid, [])
    return {override.field: override.at for override in found if override.at is not None}
