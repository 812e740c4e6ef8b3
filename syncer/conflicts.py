"""Field-level conflict resolution between a source call and callsync's copy in a target.

Pure: values in, values out. A push reconciles each (call, target) field by field against what
the ledger says the last write did (``call_links.written_fields``): ``basis``, a digest per
field of the source's value then, and ``held``, the value the target got. A pull of the target
records fields edited on the copy since (``call_links.target_edits``; only the fields the
target's connector reads back exactly as written, ``Connector.editable``). Per field:

- changed only in the source: written;
- edited only in the target: kept, unless ``prefer`` ranks the source above the target;
- changed in both: the connection ``prefer`` ranks higher wins; with neither ranked (the
  default policy, "latest"), the side changed most recently wins (an unknown time loses);
- the target already holds the call's value (its edit *is* the canonical value): nothing to
  write, the edit stays;
- a ``never_overwrite`` field is never changed by an update: the target keeps its value.

What reaches the canonical call. An edit the target keeps by the rules above becomes a change
of the canonical call (an :class:`Override`, kept in the store and applied whenever the call is
stored), so it travels to the call's other targets; per route policy of the edited target:

- ``latest`` (default): the edit is the call's value of that field until the source changes
  the field again, later than the edit: then the source's value wins again everywhere;
- ``prefer`` ranking the target above the source: the edit is the call's value, and a later
  source change of the field does not win it back (the target outranks the source);
- ``prefer`` ranking the source above the target: the edit is not kept (the next push writes
  the source's value over it), so it never reaches the call;
- the field in the route's ``never_overwrite``: the target's reps own it *there*: the edit
  stays in that target only and the call keeps the source's value (nor is it ever written).

An edit in a target "changed" the field at the target record's update time; when two targets'
edits of one field are accepted, the later one is the call's value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from syncer.model import Call, canonical_json

# What is bookkeeping, not what the call says (where the record lives, whose copy it is).
_NOT_FIELDS = frozenset({"source", "copy_of", "deleted_at"})
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


@dataclass(frozen=True)
class Override:
    """A target's edit accepted as the canonical call's value of ``field`` (module docstring)."""

    field: str
    value: Any  # a JSON value, as :func:`values` gives it
    at: datetime | None  # when the target record was edited
    target: str  # the connection it was edited in
    basis: str  # digest of the source's value then: another digest is a source change
    yields: bool  # a later source change wins it back (not when prefer ranks the target higher)


def values(call: Call) -> dict[str, Any]:
    """The call's canonical fields as JSON values."""
    data = canonical_json(call)
    return {name: data.get(name) for name in FIELDS}


def digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def digests(fields: Mapping[str, Any]) -> dict[str, str]:
    return {name: digest(value) for name, value in fields.items()}


def with_values(call: Call, fields: Mapping[str, Any]) -> Call:
    """``call`` with the fields in ``fields`` (JSON values) instead of its own."""
    if not fields:
        return call
    changed = Call.model_validate({**canonical_json(call), **fields})
    return changed.model_copy(update={"raw": call.raw})


def edited(
    copy: Mapping[str, Any], held: Mapping[str, Any], editable: Sequence[str]
) -> dict[str, Any]:
    """The ``editable`` fields whose value on the copy differs from what callsync wrote (``held``,
    as the target reads it back: ``Connector.read_back``)."""
    return {
        name: copy.get(name)
        for name in editable
        if name in held and digest(copy.get(name)) != digest(held[name])
    }


def _ranked(policy: Policy, source: str, target: str) -> bool | None:
    """Whether ``prefer`` ranks the source above the target (None: it ranks neither)."""
    ranks = {name: index for index, name in enumerate(policy.prefer)}
    if source in ranks or target in ranks:
        return ranks.get(source, len(ranks)) < ranks.get(target, len(ranks))
    return None


def _source_wins(policy: Policy, source: str, target: str, both: bool, newer: bool) -> bool:
    ranked = _ranked(policy, source, target)
    if ranked is not None:
        return ranked
    return both and newer  # latest: a field the source did not change keeps the target's edit


def _newer(at: datetime | None, than: datetime | None) -> bool:
    """Whether a change at ``at`` is later than one at ``than`` (an unknown time loses)."""
    return at is not None and (than is None or at > than)


def resolve(
    call: Call,
    basis: Mapping[str, str],
    held: Mapping[str, Any],
    edits: Edits,
    policy: Policy,
    target: str,
    changed_at: Mapping[str, datetime] | None = None,
) -> Resolution:
    """Field by field, what an update of the copy in ``target`` writes and what it keeps.
    ``changed_at``: when fields of the call last changed by an accepted edit (:class:`Override`)
    rather than at the source's update time."""
    now = values(call)
    changed = {name for name in FIELDS if basis.get(name) != digest(now[name])}
    times = changed_at or {}
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
        if digest(now[name]) == digest(edits.values[name]):  # the target holds the call's value
            keep[name] = edits.values[name]
            kept_edits.append(name)
            continue
        both = name in changed
        newer = _newer(times.get(name, call.source.source_updated_at), edits.at)
        if _source_wins(policy, call.source.connection, target, both, newer):
            write.append(name)
        else:
            keep[name] = edits.values[name]
            kept_edits.append(name)
    return Resolution(tuple(write), keep, tuple(kept_edits), tuple(refused))


# --- accepted edits: what reaches the canonical call ------------------------------------------


def accepted(
    call: Call,
    kept: Mapping[str, Any],
    at: datetime | None,
    target: str,
    policy: Policy,
    current: Sequence[Override] = (),
) -> list[Override]:
    """The overrides the edits ``kept`` in ``target`` (field -> value) make of ``call`` (the
    canonical call, ``current`` its overrides): new values only, never an owned field."""
    canonical = values(call)
    by_field = {override.field: override for override in current}
    yields = _ranked(policy, call.source.connection, target) is None
    found: list[Override] = []
    for name, value in sorted(kept.items()):
        existing = by_field.get(name)
        if name in policy.never_overwrite or digest(value) == digest(canonical[name]):
            continue  # the target's own field, or already the call's value
        if existing is not None and _newer(existing.at, at):
            continue  # a later edit in another target is the call's value
        # The call's value is an earlier override's: the source's value is that one's basis.
        basis = existing.basis if existing is not None else digest(canonical[name])
        found.append(Override(name, value, at, target, basis, yields))
    return found


def apply(call: Call, overrides: Sequence[Override]) -> tuple[Call, list[Override]]:
    """The canonical call: ``call`` as its source says it, with the ``overrides`` that still
    hold (returned, their basis brought up to the source's value). One the source changed
    since wins back if it ``yields`` and the source changed later than the edit."""
    source = values(call)
    held: list[Override] = []
    for override in overrides:
        now = digest(source[override.field])
        if now != override.basis:
            if override.yields and _newer(call.source.source_updated_at, override.at):
                continue  # the source changed the field again, after the edit: it wins
            override = replace(override, basis=now)
        held.append(override)
    return with_values(call, {o.field: o.value for o in held}), held
