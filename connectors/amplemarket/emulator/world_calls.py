"""The vendor-neutral demo hooks of ``Emulator`` for Amplemarket: log a world call late, edit
its notes, delete it, and add a record the connector quarantines.

A late call is built by the seeder's own rules (``WorldSeeder._call``), so it looks exactly
like a seeded one, and gets the same deterministic id the seeding would have given it.
"""

from __future__ import annotations

import random
from typing import Any

from connectors.amplemarket.emulator.ids import epoch_ms
from connectors.amplemarket.emulator.seeding import DISPOSITIONS, WorldIds, WorldSeeder
from connectors.amplemarket.emulator.store import AmplemarketStore
from connectors.emulation import WorldCall


class _LateSeeder(WorldSeeder):
    """A seeder for one call at a time: the directory records come from the store."""

    def __init__(self, store: AmplemarketStore, ids: WorldIds, call: WorldCall) -> None:
        self.store = store
        self.ids = ids
        self.rng = random.Random(f"{ids.seed}:{call.key}")
        self.dispositions = self._found("disposition", [slug for _, slug, _ in DISPOSITIONS])
        self.users = self._found("user", [call.user.key])
        self.contacts = self._found("contact", [call.contact.key])
        self.task_ids = {}

    def _found(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        collection = {
            "disposition": self.store.dispositions,
            "user": self.store.users,
            "contact": self.store.contacts,
        }[kind]
        found = {key: collection.get(self.ids.directory(kind, key)) for key in keys}
        return {key: doc for key, doc in found.items() if doc is not None}


class AmplemarketWorldCalls:
    """Mixed into the emulator (which provides ``store``)."""

    store: AmplemarketStore

    def _late_document(self, call: WorldCall) -> dict[str, Any]:
        raw = self.store.state.get_meta("amplemarket.world_ids")
        if raw is None:
            raise LookupError("no world has been seeded")
        ids = WorldIds.from_meta(raw)
        return _LateSeeder(self.store, ids, call)._call(call)

    def log_world_call(self, call: WorldCall) -> str:
        doc = self._late_document(call)
        self.store.put_call(doc)
        return str(doc["id"])

    def world_call_id(self, call: WorldCall) -> str:
        # Seeded and late calls alike: the id is derived from the world's seed and the call.
        return str(self._late_document(call)["id"])

    def edit_world_call(self, call: WorldCall, *, note: str) -> None:
        """Notes are editable in Amplemarket's UI; the edit is silent (no timestamp moves)."""
        doc = self.store.calls.get(self.world_call_id(call))
        if doc is None:
            raise KeyError(call.key)
        self.store.put_call({**doc, "notes": note})

    def delete_world_call(self, call: WorldCall) -> None:
        if not self.store.delete_call(self.world_call_id(call)):
            raise KeyError(call.key)

    def add_malformed_call(self, call: WorldCall) -> tuple[str, str]:
        """A dialer call with a negative duration (the API never sends one)."""
        doc = self._late_document(call)
        doc["id"] = self.store.new_id(epoch_ms(call.started_at))
        doc["duration"] = -5
        self.store.put_call(doc)
        return str(doc["id"]), "duration -5"
