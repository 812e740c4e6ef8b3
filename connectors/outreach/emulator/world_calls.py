"""The vendor-neutral demo hooks of ``Emulator`` for Outreach: log a world call late (by the
seeding's rules, stamped now), edit its note, delete it, and add a record the connector
quarantines. An edit moves ``updatedAt``, which is what Outreach's windows read."""

from __future__ import annotations

from connectors.emulation import StateDB, WorldCall
from connectors.emulation.base import world_call_key
from connectors.emulation.clock import Clock
from connectors.outreach.emulator.jsonapi import iso
from connectors.outreach.emulator.listing import Doc
from connectors.outreach.emulator.seeding import late_call_doc
from connectors.outreach.emulator.store import OutreachStore


class OutreachWorldCalls:
    """Mixed into the emulator (which provides the attributes and the admin helpers below)."""

    state: StateDB
    clock: Clock
    store: OutreachStore

    def log_world_call(self, call: WorldCall) -> str:
        remote_id = str(self._log(call)["id"])
        self.state.set_meta(world_call_key(call), remote_id)
        return remote_id

    def edit_world_call(self, call: WorldCall, *, note: str) -> None:
        """As ``OutreachEmulator.edit_call``: a rep's edit moves ``updatedAt`` to now."""
        with self.state.transaction():
            doc = self.store.calls.get(self._id(call))
            if doc is None:
                raise KeyError(call.key)
            doc["attributes"]["note"] = note
            doc["updatedAt"] = doc["attributes"]["updatedAt"] = iso(self.clock.now())
            self.store.put_call(doc)

    def delete_world_call(self, call: WorldCall) -> None:
        if not self.store.calls.delete(self._id(call)):
            raise KeyError(call.key)

    def add_malformed_call(self, call: WorldCall) -> tuple[str, str]:
        """A call whose ``direction`` is neither inbound nor outbound."""
        doc = self._log(call)
        doc["attributes"]["direction"] = "sideways"
        self.store.put_call(doc)
        return str(doc["id"]), "direction 'sideways'"

    def _log(self, call: WorldCall) -> Doc:
        with self.state.transaction():
            doc = late_call_doc(self.store, call, self.clock.now())
            self.store.put_call(doc)
        return doc

    def _id(self, call: WorldCall) -> int:
        remote_id = self.state.get_meta(world_call_key(call))
        if remote_id is None:
            raise KeyError(f"world call {call.key} was not logged here")
        return int(remote_id)
