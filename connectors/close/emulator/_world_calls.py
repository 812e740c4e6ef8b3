"""The vendor-neutral demo hooks of ``Emulator`` for Close: log a world call late (through
Close's own telephony, as ``add_close_call`` does), edit its note, delete it, and add a record
the connector quarantines. Edits and deletions land in the event log, as in Close."""

from __future__ import annotations

import random
from typing import Any

from connectors.emulation import WorldCall
from connectors.emulation.base import world_call_key

from ._admin import CloseAdmin
from ._seed import Seeder, call_id_for, contact_id_for
from ._state import user_id_for
from ._support import iso, make_id


class CloseWorldCalls(CloseAdmin):
    def log_world_call(self, call: WorldCall) -> str:
        remote_id = str(self._log(call)["id"])
        self.state.set_meta(world_call_key(call), remote_id)
        return remote_id

    def world_call_id(self, call: WorldCall) -> str:
        """Logged late (remembered) or seeded (the seeding's id for the world call)."""
        remembered = self.state.get_meta(world_call_key(call))
        if remembered is not None:
            return remembered
        if self.calls.get(call_id_for(call.key)) is None:
            raise KeyError(f"world call {call.key} is not in this Close organisation")
        return call_id_for(call.key)

    def edit_world_call(self, call: WorldCall, *, note: str) -> None:
        self.edit_call(self.world_call_id(call), note=note)

    def delete_world_call(self, call: WorldCall) -> None:
        self.delete_call(self.world_call_id(call))

    def add_malformed_call(self, call: WorldCall) -> tuple[str, str]:
        """A call whose ``disposition`` is no value Close documents."""
        rec = self._log(call, make_id("acti", f"malformed:{call.key}"))
        self.calls.put({**rec, "disposition": "teleported"})
        return str(rec["id"]), "disposition 'teleported'"

    def _log(self, call: WorldCall, call_id: str | None = None) -> dict[str, Any]:
        """The call as the seeding would have made it, created now (Close stamps
        ``date_created`` at logging: creation windows see it), with its ``created`` event."""
        now = self._now()
        seeder = Seeder(self.store, self.events, now, seed_events=True)
        seeder.users[call.user.key] = (user_id_for(call.user.key), call.user.name, call.user.phone)
        contact = self.store.contact(contact_id_for(call.contact.key))
        if contact is not None:
            seeder.contact_ids[call.contact.key] = contact["id"]
            seeder.lead_of[contact["id"]] = contact["lead_id"]
        rec, _ = seeder._call(call, contact is not None, random.Random(call.key))
        rec.update(id=call_id or rec["id"], date_created=iso(now), date_updated=iso(now))
        with self.state.transaction():
            self.calls.put(rec)
            self.events.seed_created(rec, now)
        return rec
