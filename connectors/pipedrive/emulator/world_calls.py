"""The vendor-neutral demo hooks of ``Emulator`` for Pipedrive: log a world call late (as the
telephony integration pushes it: a call log and its ``call`` activity, added now), edit its
note, delete it, and add a record the connector quarantines.

A call's note is edited on its activity (call logs have no update endpoint, §2.7; the log
follows its activity). Deleting a call removes the log and soft-deletes its activity, as
deleting the call in the UI does, so both ways callsync reads calls see it go.
"""

from __future__ import annotations

from typing import Any

from connectors.emulation import StateDB, WorldCall
from connectors.emulation.base import world_call_key
from connectors.pipedrive.emulator.activities import apply_changes, check_activity_body
from connectors.pipedrive.emulator.seeding import late_call_input
from connectors.pipedrive.emulator.store import PipedriveStore
from connectors.pipedrive.emulator.wire import rfc3339


class PipedriveWorldCalls:
    """Mixed into the emulator (which provides ``state`` and ``store``)."""

    state: StateDB
    store: PipedriveStore

    def log_world_call(self, call: WorldCall) -> str:
        remote_id = str(self.store.create_call_log(late_call_input(self.store, call))["id"])
        self.state.set_meta(world_call_key(call), remote_id)
        return remote_id

    def edit_world_call(self, call: WorldCall, *, note: str) -> None:
        activity = self._activity(self._log(call))
        apply_changes(activity, check_activity_body({"note": note}), rfc3339(self.store.now()))
        self.store.put_activity(activity)
        self.store.sync_call_log_from_activity(activity)

    def delete_world_call(self, call: WorldCall) -> None:
        log = self._log(call)
        activity = self._activity(log)
        self.store.delete_call_log(log)
        self.store.soft_delete_activity(activity)

    def add_malformed_call(self, call: WorldCall) -> tuple[str, str]:
        """A call log whose ``outcome`` is no value Pipedrive documents. It is logged by the
        company's first user (the demo token's): only that user's call logs are listed, and
        other users' calls are read from their activities, which carry no outcome."""
        first_user = min(int(user["id"]) for user in self.store.all_users())
        log = self.store.create_call_log(late_call_input(self.store, call, first_user))
        self.store.call_logs.put(log["id"], {**log, "outcome": "teleported"}, owner=log["user_id"])
        return str(log["id"]), "outcome 'teleported'"

    def _log(self, call: WorldCall) -> dict[str, Any]:
        remote_id = self.state.get_meta(world_call_key(call))
        log = None if remote_id is None else self.store.call_log(remote_id)
        if log is None:
            raise KeyError(f"world call {call.key} was not logged here")
        return log

    def _activity(self, log: dict[str, Any]) -> dict[str, Any]:
        activity = self.store.activity(int(log["activity_id"]))
        if activity is None:
            raise KeyError(log["activity_id"])
        return activity
