"""What tests do "as a user in the Amplemarket UI", without HTTP: seed, add, edit, delete, look.

Edits are silent on purpose: calls have no ``updated_at`` (§1.3), so a disposition changed in
the UI, a transcript added later or a deleted call is only seen by a look-back re-scan or a
full sweep (§1.6.4-5). That is exactly what these helpers let tests provoke.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from connectors.amplemarket.emulator.ids import epoch_ms, iso_second, normalise_uuid
from connectors.amplemarket.emulator.recording import recording_size
from connectors.amplemarket.emulator.records import (
    call_document,
    contact_document,
    task_document,
    user_document,
)
from connectors.amplemarket.emulator.seeding import WorldIds, WorldSeeder
from connectors.amplemarket.emulator.store import AmplemarketStore, composite, public
from connectors.emulation import Clock, World, WorldCall
from connectors.emulation.media import recording_path

EDITABLE_CALL_FIELDS = frozenset({"disposition_id", "notes", "transcription"})
Doc = dict[str, Any]


class AmplemarketAdmin:
    """Mixed into the emulator; needs its ``store`` and ``clock``."""

    DEMO_API_KEY: ClassVar[str]
    store: AmplemarketStore
    clock: Clock

    # --- seeding and credentials ---------------------------------------------------------

    def seed_world(self, world: World) -> None:
        """Fill the account from ``world`` in one transaction (accepts ``DEMO_API_KEY`` after)."""
        with self.store.state.transaction():
            WorldSeeder(self.store, world, self.DEMO_API_KEY).run()

    def add_api_key(self, key: str) -> None:
        self.store.set_api_keys(self.store.api_keys() | {key})

    def revoke_api_key(self, key: str) -> None:
        self.store.set_api_keys(self.store.api_keys() - {key})

    # --- directory -----------------------------------------------------------------------

    def add_user(self, name: str, email: str, *, phone: str) -> Doc:
        doc = user_document(
            user_id=self._new_id(), name=name, email=email, phone=phone, mailbox_id=self._new_id()
        )
        self.store.users.put(doc["id"], doc)
        return public(doc)

    def add_contact(self, name: str, email: str, *, phone: str) -> Doc:
        doc = contact_document(contact_id=self._new_id(), name=name, email=email, phone=phone)
        self.store.contacts.put(doc["id"], doc)
        return doc

    def add_task(
        self,
        user_id: str,
        contact_id: str,
        *,
        task_type: str = "phone_call",
        sequence_key: str | None = None,
        sequence_name: str | None = None,
    ) -> Doc:
        """A scheduled manual task (what a sequence step or a rep creates in the UI)."""
        user, contact = self._user(user_id), self._contact(contact_id)
        sequence = (
            None
            if sequence_key is None
            else {"key": sequence_key, "name": sequence_name or "Sequence"}
        )
        doc = task_document(
            task_id=self._new_id(),
            user=user,
            contact=contact,
            due_on=iso_second(self.clock.now()),
            task_type=task_type,
            sequence=sequence,
        )
        self.store.put_task(doc)
        return public(doc)

    def get_task(self, task_id: str) -> Doc | None:
        doc = self.store.tasks.get(task_id)
        return None if doc is None else public(doc)

    def lead_status(self, sequence_key: str, contact_id: str) -> str:
        """``completed`` once a ``complete`` disposition finished the lead, else ``active``."""
        done = self.store.completed_leads.get(composite(sequence_key, contact_id))
        return "active" if done is None else "completed"

    # --- calls ---------------------------------------------------------------------------

    def add_call(
        self,
        *,
        user_id: str,
        to: str,
        duration: int | None,
        answered: bool | None = True,
        human: bool = True,
        started_at: datetime | None = None,
        from_: str | None = None,
        task_id: str | None = None,
        disposition_id: str | None = None,
        notes: str | None = None,
        direction: str = "outgoing",
        recorded: bool = False,
    ) -> Doc:
        """A call made in Amplemarket's dialer (``external: false``).

        ``started_at`` in the past makes a call that shows up late, behind a sync's cursor.
        """
        user = self._user(user_id)
        task = None if task_id is None else self.store.tasks.get(task_id)
        started = started_at or self.clock.now()
        call_id = self._new_id(started)
        doc = call_document(
            call_id=call_id,
            start_date=iso_second(started),
            from_number=from_ or user["_phone"],
            to_number=to,
            duration=duration,
            answered=answered,
            human=human,
            external=False,
            user=user,
            contact=None if task is None else task["contact"],
            task_id=None if task is None else task["id"],
            disposition=self._disposition(disposition_id),
            direction=direction,
            notes=notes,
            recording_url=recording_path(call_id) if recorded else None,
            recording_bytes=recording_size(duration) if recorded else None,
        )
        self.store.put_call(doc)
        return public(doc)

    def edit_call(self, call_id: str, **fields: Any) -> Doc:
        """Change disposition / notes / transcription silently (no timestamp moves)."""
        unknown = set(fields) - EDITABLE_CALL_FIELDS
        if unknown:
            raise ValueError(f"not editable in the UI: {sorted(unknown)}")
        doc = self.store.calls.get(call_id)
        if doc is None:
            raise KeyError(call_id)
        if "disposition_id" in fields:
            disposition = self._disposition(fields.pop("disposition_id"))
            doc["disposition_id"] = None if disposition is None else disposition["id"]
            doc["disposition_name"] = None if disposition is None else disposition["name"]
        doc.update(fields)
        self.store.put_call(doc)
        return public(doc)

    def delete_call(self, call_id: str) -> bool:
        return self.store.delete_call(call_id)

    def get_call(self, call_id: str) -> Doc | None:
        doc = self.store.calls.get(call_id)
        return None if doc is None else public(doc)

    # --- ids of world records --------------------------------------------------------------

    def user_id_for(self, world_user_key: str) -> str:
        return self._world_ids().directory("user", world_user_key)

    def contact_id_for(self, world_contact_key: str) -> str:
        return self._world_ids().directory("contact", world_contact_key)

    def task_id_for(self, world_user_key: str, world_contact_key: str) -> str:
        return self._world_ids().directory("task", world_user_key, world_contact_key)

    def call_id_for(self, world_call: WorldCall) -> str:
        return self._world_ids().call(world_call)

    # --- helpers -------------------------------------------------------------------------

    def _world_ids(self) -> WorldIds:
        raw = self.store.state.get_meta("amplemarket.world_ids")
        if raw is None:
            raise LookupError("no world has been seeded")
        return WorldIds.from_meta(raw)

    def _new_id(self, when: datetime | None = None) -> str:
        return self.store.new_id(epoch_ms(when or self.clock.now()))

    def _user(self, user_id: str) -> Doc:
        doc = self.store.users.get(user_id)
        if doc is None:
            raise KeyError(user_id)
        return doc

    def _contact(self, contact_id: str) -> Doc:
        doc = self.store.contacts.get(contact_id)
        if doc is None:
            raise KeyError(contact_id)
        return doc

    def _disposition(self, disposition_id: str | None) -> Doc | None:
        if disposition_id is None:
            return None
        doc = self.store.dispositions.get(normalise_uuid(disposition_id) or disposition_id)
        if doc is None:
            raise KeyError(disposition_id)
        return doc
