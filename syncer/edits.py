"""Edits made in a target on callsync's own copy of a call, found when the target is pulled.

A pull files a marked copy under the call it copies (``syncer/records.py``). If an editable
field of the copy (``conflicts.EDITABLE``) differs from what the ledger says callsync wrote
there, a rep edited it in the target: the ledger row records the edit (values and when, reason
"edited in the target") and no longer claims to hold the call's content, so the next push
reconciles it by the route's conflict policy (``syncer/conflicts.py``): under the default the
edit is kept, never overwritten.

Not done here: the edit does not become a change of the canonical call, so it does not travel
on to the call's other targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from syncer import conflicts
from syncer.model import Call
from syncer.store import ledger


def note(conn: Connection, target: str, copies: Sequence[Call], owners: Mapping[str, str]) -> int:
    """Record edits found on ``copies`` (records read from ``target``; ``owners``: external id
    -> the call each copies); returns how many rows gained an edit."""
    noted = 0
    for copy in copies:
        owner = owners.get(copy.source.external_id)
        row = ledger.get(conn, owner, target) if owner else None
        if row is None or row.state != ledger.DONE or row.kind != ledger.WRITTEN:
            continue
        held = (row.written_fields or {}).get("held")
        if not held:
            continue  # written before field-level records: nothing to compare with
        found = conflicts.edited(conflicts.values(copy), held)
        previous = (row.target_edits or {}).get("values") or {}
        if not found or conflicts.digests(found) == conflicts.digests(previous):
            continue
        at = copy.source.source_updated_at or datetime.now(UTC)
        edits = {"values": found, "at": at.isoformat()}
        reason = f"edited in the target: {', '.join(sorted(found))}"
        noted += ledger.note_edits(conn, str(owner), target, edits, reason)
    return noted
