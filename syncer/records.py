"""Raw vendor records -> stored canonical calls, the one way every path that maps does it:
a pull's page (``syncer/pull.py``), the re-mapping of incomplete calls (``pull.relabel``) and
the replay of quarantined records (``syncer/quarantine.py``).

The caller owns the transaction; these functions only compose repository calls, so whatever
path stored a call, the calls, raw payloads and copy filing are exactly the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.engine import Connection

from connectors.base import Connector, JsonDict
from syncer import accepted, edits
from syncer.errors import MappingFailure
from syncer.model import Call
from syncer.store import ledger, repo

# What a connector's ``to_call`` raises for a record that is malformed rather than unmapped.
INVALID = (ValidationError, ValueError, KeyError, TypeError)


def map_one(connector: Connector, record: JsonDict) -> Call | str:
    """The canonical call of ``record``, or the reason it cannot be one (stored in quarantine)."""
    try:
        return connector.to_call(record)
    except MappingFailure as failure:
        return failure.reason
    except INVALID as error:
        return f"invalid record: {error}"


def map_records(
    connector: Connector, records: Iterable[JsonDict]
) -> tuple[list[Call], list[repo.Quarantined]]:
    """Canonical calls for the records that map; the others with the reason they do not."""
    calls: dict[str, Call] = {}
    failed: list[repo.Quarantined] = []
    for record in records:
        mapped = map_one(connector, record)
        if isinstance(mapped, str):
            failed.append(quarantined(connector, record, mapped))
        else:
            calls[mapped.call_uid] = mapped  # the same id twice on a page: the later copy wins
    return list(calls.values()), failed


def quarantined(connector: Connector, record: JsonDict, reason: str) -> repo.Quarantined:
    try:
        key = connector.record_key(record)
    except (KeyError, TypeError, ValueError):
        key = f"unkeyed:{repo.raw_hash(record)[:16]}"
    return repo.Quarantined(key, record, reason)


@dataclass(frozen=True)
class Stored:
    """What :func:`store_mapped` did with a batch of mapped calls."""

    calls: list[Call]  # kept: stored, or unchanged since they were (copies filed included)
    held: list[repo.Quarantined]  # marked copies of calls this store does not hold
    changed: list[Call]  # written (new or different raw payload)
    unchanged: list[Call]


def store_mapped(conn: Connection, connector: Connector, mapped: Sequence[Call]) -> Stored:
    """Store mapped calls and their raw payloads as a pull does: only those whose payload
    changed, each with the target edits accepted as its changes (``syncer/accepted.py``),
    records callsync wrote filed under the call they copy, calls mapped without a label marked
    incomplete. Quarantining ``held`` and touching the rest is the caller's."""
    name = connector.context.name
    calls, held = _file_copies(conn, mapped)
    hashes = {call.source.external_id: repo.raw_hash(call.raw) for call in calls}
    changed = repo.changed_calls(conn, name, calls, hashes)
    changed_ids = {call.source.external_id for call in changed}
    copies = _copies(conn, name, changed)
    own = [c for c in changed if c.source.external_id not in copies]
    repo.upsert_calls(conn, accepted.on_store(conn, own))
    edits.note(conn, connector, [c for c in changed if c.source.external_id in copies], copies)
    incomplete = _incomplete(connector, changed)
    repo.upsert_source_records(conn, changed, hashes=hashes, owners=copies, incomplete=incomplete)
    unchanged = [c for c in calls if c.source.external_id not in changed_ids]
    return Stored(calls, held, changed, unchanged)


def _incomplete(connector: Connector, calls: Sequence[Call]) -> dict[str, str]:
    """external id -> why the call lacks a label a failed look-up should have given."""
    reasons = {c.source.external_id: connector.incomplete(c.raw) for c in calls}
    return {external_id: reason for external_id, reason in reasons.items() if reason}


def _copies(conn: Connection, connection: str, calls: Sequence[Call]) -> dict[str, str]:
    """external id -> call_uid for records callsync wrote into this connection: copies of calls
    it already knows, filed under that call, never a new canonical call (and so never routed
    onward or echoed back). The marker read from the record decides, whatever the ledger says
    (a copy read back before its create was settled); the ledger covers records without one."""
    copies = ledger.written_copies(conn, connection, [c.source.external_id for c in calls])
    copies.update({c.source.external_id: c.copy_of for c in calls if c.copy_of is not None})
    return copies


def _file_copies(
    conn: Connection, calls: Sequence[Call]
) -> tuple[list[Call], list[repo.Quarantined]]:
    """Marked copies of calls this store does not know (another installation's, or a store
    rebuilt from scratch) are held in quarantine: routing them onward could duplicate them."""
    marked = {c.copy_of for c in calls if c.copy_of is not None}
    known = repo.known_calls(conn, sorted(marked))
    kept = [c for c in calls if c.copy_of is None or c.copy_of in known]
    held = [
        repo.Quarantined(
            c.source.external_id,
            c.raw,
            f"callsync's copy of call {c.copy_of}, which this store does not hold",
        )
        for c in calls
        if c.copy_of is not None and c.copy_of not in known
    ]
    return kept, held
