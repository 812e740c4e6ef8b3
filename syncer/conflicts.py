"""Field-level conflict resolution between a source call and callsync's copy in a target.

Pure: values in, values out. A push reconciles each (call, target) field by field against what
the ledger says the last write did (``call_links.written_fields``): ``basis``, a digest per
field of the source's value then, and ``held``, the value the target got. A pull of the target
records fields edited on the copy since (``call_links.target_edits``). Per field:

- changed only in the source: written;
- edited only in the target: kept, unless ``prefer`` ranks the source above the target;
- changed in both: the connection ``prefer`` ranks higher wins; with neither ranked (the
  default policy, "latest"), the side changed most recently wins (an unknown time loses);
- a ``never_overwrite`` field is never changed by an update: the target keeps its value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncer.model import Call, canonical_json

# What is bookkeeping, not what the call says (where the record lives, whose copy it is).
_NOT_FIELDS = frozenset({"source", "copy_of", "deleted_at"})
# Fields whose edits in a target are detected on callsync's copy: only those that read back
# exactly as written. Outcomes and durations pass through vendor vocabularies and rounding
# (Close's status, Pipedrive's minutes), so a copy read back differs without anyone's edit,
# and sending the read-back value again would change the target.
EDITABLE = ("note",)
FIELDS = tuple(name for name in Call.model_fields if name not in _NOT_FIELDS | {"raw"})


@dataclass(frozen=True)
class Policy:
    """A route's ``conflicts``: source priority by connection name, and target-owned fields."""

    prefer: tuple[str, ...] = ()
    never_overwrite: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Edits:
    """Fields edited in the target on callsync's copy (their values there), and when."""

    values: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass(frozen=True)
class Resolution:
    """What an update writes (``write``) and what the target keeps (``keep``: field -> value
    to send unchanged, so a connector that sends every field changes nothing there)."""

    write: tuple[str, ...]
    keep: Mapping[str, Any]
    kept_edits: tuple[str, ...]  # edits made in the target that stay
    refused: tuple[str, ...] = ()  # changed in the source, but owned by the target


def values(call: Call) -> dict[str, Any]:
    """The call's canonical fields as JSON values."""
    data = canonical_json(call)
    return {name: data.get(name) for name in FIELDS}


def digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def digests(fields: Mapping[str, Any]) -> dict[str, str]:
    return {name: digest(value) for name, value in fields.items()}


def edited(copy: Mapping[str, Any], held: Mapping[str, Any]) -> dict[str, Any]:
    """The editable fields whose value on the copy differs from what callsync wrote."""
    return {
        name: copy.get(name)
        for name in EDITABLE
        if name in held and digest(copy.get(name)) != digest(held[name])
    }


def _source_wins(policy: Policy, source: str, target: str, both: bool, newer: bool) -> bool:
    ranks = {name: index for index, name in enumerate(policy.prefer)}
    if source in ranks or target in ranks:
        return ranks.get(source, len(ranks)) < ranks.get(target, len(ranks))
    return both and newer  # latest: a field the source did not change keeps the target's edit


def resolve(
    call: Call,
    basis: Mapping[str, str],
    held: Mapping[str, Any],
    edits: Edits,
    policy: Policy,
    target: str,
) -> Resolution:
    """Field by field, what an update of the copy in ``target`` writes and what it keeps."""
    now = values(call)
    changed = {name for name in FIELDS if basis.get(name) != digest(now[name])}
    source_at = call.source.source_updated_at
    newer = source_at is not None and (edits.at is None or source_at > edits.at)
    write: list[str] = []
    keep: dict[str, Any] = {}
    kept_edits: list[str] = []
    refused: list[str] = []
    for name in sorted(changed | set(edits.values)):
        if name in policy.never_overwrite:
            keep[name] = edits.values.get(name, held.get(name))
            refused.extend([name] if name in changed else [])
            continue
        if name not in edits.values:
            write.append(name)
            continue
        both = name in changed
        if _source_wins(policy, call.source.connection, target, both, newer):
            write.append(name)
        else:
            keep[name] = edits.values[name]
            kept_edits.append(name)
    return Resolution(tuple(write), keep, tuple(kept_edits), tuple(refused))
