"""What tests and the demo do "as a user in Close's UI", without HTTP or rate limits.

Seeding from the shared ``World``, id look-ups for world objects, and the few UI actions a sync
must cope with: a lead added by hand, a call made through Close's telephony, quick note edits
(which merge in the event log), deletions, a deleted outcome, extra API keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from connectors.emulation import Clock, EmuRequest, StateDB, World

from ._calls import CallBook
from ._events import EventLog, Origin
from ._people import People
from ._seed import Seeder, SeedSummary, call_id_for, contact_id_for
from ._state import Caller, CloseState, outcome_id_for, user_id_for
from ._support import API, make_id, phone_fields, to_ms


class CloseAdmin:
    """Admin helpers of ``CloseEmulator`` (a mixin: the emulator provides the attributes)."""

    INTEGRATION_USER_ID: ClassVar[str]
    state: StateDB
    clock: Clock
    store: CloseState
    events: EventLog
    calls: CallBook
    people: People
    seed_events: bool
    last_seed: SeedSummary | None

    def seed_world(self, world: World) -> None:
        self.last_seed = self.seed(world)

    def seed(self, world: World) -> SeedSummary:
        """``seed_world`` that also says what it created."""
        return Seeder(self.store, self.events, self.clock.now(), self.seed_events).run(world)

    @staticmethod
    def user_id_for(world_user_key: str) -> str:
        return user_id_for(world_user_key)

    @staticmethod
    def contact_id_for(world_contact_key: str) -> str:
        return contact_id_for(world_contact_key)

    @staticmethod
    def call_id_for(world_call_key: str) -> str:
        return call_id_for(world_call_key)

    @staticmethod
    def outcome_id(name: str) -> str:
        return outcome_id_for(name)

    def call(self, call_id: str) -> dict[str, Any] | None:
        """The stored call, transcripts included (what ``_fields`` can reveal)."""
        return self.calls.get(call_id)

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        return self.store.contact(contact_id)

    def add_lead(
        self, name: str, contacts: Sequence[Mapping[str, Any]] = (), *, user_id: str | None = None
    ) -> dict[str, Any]:
        """Create a lead as a UI user; each contact ``{name, phones: [...], emails: [...]}``."""
        body = [
            {
                "name": c.get("name", ""),
                "phones": [{"phone": p} for p in c.get("phones", [])],
                "emails": [{"email": e} for e in c.get("emails", [])],
            }
            for c in contacts
        ]
        request = EmuRequest.build(
            "POST", API + "/lead/", body=json.dumps({"name": name, "contacts": body}).encode()
        )
        with self.state.transaction():
            response = self.people.post_lead(
                request, self._ui(user_id, "POST", "/lead/"), self._now()
            )
        return dict(json.loads(response.body))

    def add_close_call(
        self,
        *,
        lead_id: str | None,
        contact_id: str | None = None,
        user_id: str | None = None,
        direction: str = "outbound",
        status: str = "completed",
        disposition: str = "answered",
        duration: int | None = 60,
        phone: str | None = None,
        activity_at: datetime | None = None,
        note: str | None = None,
        outcome_id: str | None = None,
        call_method: str = "regular",
        recording_url: str | None = None,
    ) -> dict[str, Any]:
        """A call made through Close's own telephony: ``source: "Close.io"``, disposition set."""
        now = self._now()
        origin = self._ui(user_id, "POST", "/activity/call/")
        body: dict[str, Any] = {
            "lead_id": lead_id,
            "contact_id": contact_id,
            "user_id": origin.caller.user_id,
            "direction": direction,
            "status": status,
            "duration": duration,
            "phone": phone,
            "outcome_id": outcome_id,
            "recording_url": recording_url,
            "activity_at": (activity_at or now).isoformat(),
        }
        if note is not None:
            body["note"] = note
        local = self.store.user_phone(origin.caller.user_id)
        internal = {
            "source": "Close.io",
            "disposition": disposition,
            "call_method": call_method,
            "cost": str(-(-(duration or 0) // 60) * 2),
            **(phone_fields("local", local) if local else {}),
        }
        with self.state.transaction():
            return self.calls.create(body, origin, now, internal=internal)

    def edit_call(
        self, call_id: str, *, user_id: str | None = None, **changes: Any
    ) -> dict[str, Any]:
        """Edit a call as a UI user (the call's owner by default); quick edits merge in /event/."""
        current = self.calls.get(call_id)
        if current is None:
            raise KeyError(call_id)
        with self.state.transaction():
            origin = self._ui(user_id or current["user_id"], "PUT", f"/activity/call/{call_id}/")
            return self.calls.update(call_id, changes, origin, self._now())

    def delete_call(self, call_id: str, *, user_id: str | None = None) -> None:
        current = self.calls.get(call_id)
        if current is None:
            raise KeyError(call_id)
        with self.state.transaction():
            origin = self._ui(user_id or current["user_id"], "DELETE", f"/activity/call/{call_id}/")
            self.calls.delete(call_id, origin, self._now())

    def delete_outcome(self, outcome_id: str) -> bool:
        """Delete an outcome in settings: calls keep the now dangling ``outcome_id``."""
        return self.store.delete_outcome(outcome_id)

    def add_api_key(self, api_key: str, *, user_id: str | None = None, admin: bool = False) -> None:
        self.store.add_api_key(api_key, user_id or self.INTEGRATION_USER_ID, admin)

    def add_call_custom_field(self, name: str) -> str:
        """A call custom field; its id is accepted as ``custom.<id>`` on POST/PUT."""
        return self.calls.add_custom_field(name)

    def _ui(self, user_id: str | None, method: str, path: str) -> Origin:
        """A change made in Close's UI: no API key; the UI calls Close's own API underneath."""
        acting = user_id or self.INTEGRATION_USER_ID
        request_id = make_id("req", self.store.next_token("req"), 22)
        return Origin(Caller(acting, None, True), method, API + path, request_id)

    def _now(self) -> datetime:
        return to_ms(self.clock.now())
