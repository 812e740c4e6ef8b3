"""Edits made in a target on callsync's own copy of a call, found when the target is pulled.

A pull files a marked copy under the call it copies (``syncer/records.py``). If a field the
target's connector reads back exactly (``Connector.editable``) differs on the copy from what
the ledger says callsync wrote there (as the vendor reads it back: ``Connector.read_back``), a
rep edited it in the target: the ledger row records the edit (values and when, reason "edited
in the target") and no longer claims to hold the call's content, so the next push into that
target reconciles it by the route's conflict policy (``syncer/conflicts.py``). An edit the
policy keeps becomes a change of the canonical call (``syncer/accepted.py``): it travels to the
call's other targets, and a later source change of the field wins it back as documented there.

The ledger row is read locked (``ledger.get_locked``): a push completing a write into the
target at the same time either sees this edit (and keeps it) or is seen by it.

A read from before the last write. A pull may fetch the copy before callsync's update lands
and store it after the push completed: the copy then shows what the target held before the
update, which differs from what the ledger says was written, yet nobody edited it (kept as an
edit, the old value would win over the source's newer one and travel to the other targets).
So a value the copy shows is an edit unless it is what the copy showed before that write
(``written_fields.previous``) *and* the copy was not changed after the write landed
(``written_fields.at`` against the vendor's update time of the record read). Why both, and
not the update time alone: the vendors' clocks are not callsync's, and some keep whole
seconds, so a rep's edit within the second after a write would look older than the write and
be lost; a value callsync never wrote there cannot come from before its write, whatever the
clocks say. The time decides only between a read from before the write and a rep putting the
earlier value back. A copy whose vendor gives no update time is taken for a read from before
the write: its earlier value is not noted (a rep restoring exactly that value is missed, and
the next write of the field overwrites it), rather than risk the source's newer value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from connectors.base import Connector
from syncer import conflicts
from syncer.model import Call
from syncer.store import ledger


def note(
    conn: Connection, connector: Connector, copies: Sequence[Call], owners: Mapping[str, str]
) -> int:
    """Record edits found on ``copies`` (records read from ``connector``; ``owners``: external
    id -> the call each copies); returns how many rows gained an edit."""
    if not connector.editable:
        return 0
    target = connector.context.name
    noted = 0
    for copy in copies:
        owner = owners.get(copy.source.external_id)
        row = ledger.get_locked(conn, owner, target) if owner else None
        if row is None or row.state != ledger.DONE or row.kind != ledger.WRITTEN:
            continue
        held = (row.written_fields or {}).get("held")
        if not held:
            continue  # written before field-level records: nothing to compare with
        written = connector.read_back({f: held[f] for f in connector.editable if f in held})
        found = conflicts.edited(conflicts.values(copy), written, connector.editable)
        found = _not_read_before(found, row.written_fields, copy.source.source_updated_at)
        previous = (row.target_edits or {}).get("values") or {}
        if not found or conflicts.digests(found) == conflicts.digests(previous):
            continue
        at = copy.source.source_updated_at or datetime.now(UTC)
        edits = {"values": found, "at": at.isoformat()}
        reason = f"edited in the target: {', '.join(sorted(found))}"
        noted += ledger.note_edits(conn, str(owner), target, edits, reason)
    return noted


def _not_read_before(
    found: dict[str, Any], written: Mapping[str, Any], updated_at: datetime | None
) -> dict[str, Any]:
    """The fields of ``found`` that are not the copy as it was before the last write landed
    (module docstring); ``updated_at``: the vendor's update time of the record read."""
    previous = written.get("previous") or {}
    at = written.get("at")
    if not previous or at is None:  # the last write created the copy, or predates these
        return found
    if updated_at is not None and updated_at > datetime.fromisoformat(at):
        return found  # changed after the write landed: whatever it shows is an edit
    return {
        name: value
        for name, value in found.items()
        if name not in previous or conflicts.digest(value) != conflicts.digest(previous[name])
    }
