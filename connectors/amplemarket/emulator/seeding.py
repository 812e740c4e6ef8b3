"""Turn the shared seeded ``World`` into an Amplemarket account, in Amplemarket's vocabulary.

What one account gets:
- the demo API key, the account object, and eight dispositions with both actions;
- one user per world user (role ``sales_rep``, one mailbox) and one sequence per user;
- one contact per world contact present in Amplemarket (some are missing on purpose);
- for every (contact, user): a scheduled manual ``phone_call`` task, most inside the user's
  sequence, because ``POST /calls`` needs a task for the contact (§1.7, §1.15.1); every tenth
  contact also has a completed automatic ``email`` task, so task filters have something to do;
- one call per world call logged in Amplemarket: dialer calls (``external: false``, notes and
  recordings possible) and, for the world's independently logged twins, externally logged
  calls (``external: true``: never notes, never an in-app recording, as POST /calls allows).

Quirks kept on purpose: numbers in the formats people type (Amplemarket does not normalise,
§1.15.6); failed dialer calls with ``duration`` and ``answered`` null (the official GET /calls
example); calls to numbers that are no contact (``contact`` and ``task_id`` null); inbound
calls with a contact but no task; many calls in the same second.

Seeding replays history without side effects: a past call with a ``complete`` disposition does
not close today's task (real accounts get a new task per sequence step; one task per contact
and user stands in for all of them, which keeps 100k-call seeding to a few seconds).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from connectors.amplemarket.emulator.ids import epoch_ms, iso_second, stable_bits, uuid7
from connectors.amplemarket.emulator.recording import recording_size
from connectors.amplemarket.emulator.records import (
    call_document,
    contact_document,
    disposition_document,
    task_document,
    user_document,
)
from connectors.amplemarket.emulator.store import AmplemarketStore
from connectors.emulation import World, WorldCall, WorldContact
from connectors.emulation.media import recording_path
from connectors.emulation.world import format_phone

DAY_MS = 86_400_000

# (name, slug, action): account-defined in reality (§1.9); both actions are represented.
DISPOSITIONS = (
    ("Interested", "interested", "next_stage"),
    ("No answer", "no_answer", "next_stage"),
    ("Left voicemail", "left_voicemail", "next_stage"),
    ("Busy", "busy", "next_stage"),
    ("Left message", "left_message", "next_stage"),
    ("Not interested", "not_interested", "complete"),
    ("Meeting booked", "meeting_booked", "complete"),
    ("Wrong number", "wrong_number", "complete"),
)

# Canonical outcome -> (answered, human, disposition slugs to pick from). Amplemarket has no
# outcome field: ``answered`` + ``human`` carry it, dispositions only categorise (§1.9).
OUTCOMES: dict[str, tuple[bool | None, bool, tuple[str | None, ...]]] = {
    "connected": (True, True, ("interested", "meeting_booked", "not_interested", None)),
    "no_answer": (False, False, ("no_answer", "no_answer", None)),
    "voicemail_left": (True, False, ("left_voicemail",)),
    "voicemail_no_message": (True, False, (None,)),
    "busy": (False, False, ("busy",)),
    "message_left": (True, True, ("left_message",)),
    "wrong_number": (True, True, ("wrong_number",)),
    # A failed dial: the official example's nulls (duration and answered both null).
    "failed": (None, False, (None,)),
}

# How often each format_phone style shows up: the dialer mostly stores E.164 or the doc
# example's "+1 123456789" form; numbers typed by people (external logs) vary more.
_DIALER_STYLES = (0, 0, 0, 4, 4, 1, 2)
_EXTERNAL_STYLES = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class WorldIds:
    """Deterministic Amplemarket ids for world records: same seed, same ids, no lookup table."""

    seed: int
    base_ms: int  # creation time of the account's directory records

    @classmethod
    def for_world(cls, world: World) -> WorldIds:
        return cls(world.seed, epoch_ms(world.start - timedelta(days=90)))

    def directory(self, kind: str, *keys: str) -> str:
        bits = stable_bits(self.seed, kind, *keys, bits=128)
        return uuid7(self.base_ms + (bits >> 74) % DAY_MS, bits)

    def call(self, call: WorldCall) -> str:
        # The id embeds the start (plus a sub-second offset), so start_date == id time (§1.7).
        bits = stable_bits(self.seed, "call", call.key, bits=128)
        return uuid7(epoch_ms(call.started_at) + (bits >> 74) % 1000, bits)

    def to_meta(self) -> str:
        return json.dumps({"seed": self.seed, "base_ms": self.base_ms})

    @classmethod
    def from_meta(cls, raw: str) -> WorldIds:
        data = json.loads(raw)
        return cls(int(data["seed"]), int(data["base_ms"]))


class WorldSeeder:
    """Writes one world into one store (call ``run`` inside a transaction)."""

    def __init__(self, store: AmplemarketStore, world: World, demo_api_key: str) -> None:
        self.store = store
        self.world = world
        self.demo_api_key = demo_api_key
        self.ids = WorldIds.for_world(world)
        self.rng = random.Random(world.seed * 31 + 5)
        self.dispositions: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.sequences: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.task_ids: dict[tuple[str, str], str] = {}

    def run(self) -> None:
        self._seed_account()
        self._seed_dispositions()
        self._seed_users()
        self._seed_contacts_and_tasks()
        for call in self.world.iter_calls("amplemarket"):
            self.store.put_call(self._call(call))

    def _seed_account(self) -> None:
        self.store.state.set_meta("amplemarket.world_ids", self.ids.to_meta())
        self.store.set_account(
            {
                "id": self.ids.directory("account"),
                "name": "Callsync Demo",
                "domain": "callsync-demo.test",
            }
        )
        self.store.set_api_keys(self.store.api_keys() | {self.demo_api_key})

    def _seed_dispositions(self) -> None:
        for name, slug, action in DISPOSITIONS:
            doc = disposition_document(
                disposition_id=self.ids.directory("disposition", slug),
                name=name,
                slug=slug,
                action=action,
            )
            self.dispositions[slug] = doc
            self.store.dispositions.put(doc["id"], doc)

    def _seed_users(self) -> None:
        for user in self.world.user_list:
            doc = user_document(
                user_id=self.ids.directory("user", user.key),
                name=user.name,
                email=user.email,
                phone=user.phone,
                mailbox_id=self.ids.directory("mailbox", user.key),
            )
            self.users[user.key] = doc
            self.store.users.put(doc["id"], doc)
            first_name = user.name.split()[0]
            self.sequences[user.key] = {
                "key": self.ids.directory("sequence", user.key),
                "name": f"{first_name}'s outbound calls",
            }

    def _seed_contacts_and_tasks(self) -> None:
        due_on = iso_second(self.world.start + timedelta(days=self.world.days))
        for index, contact in enumerate(self.world.contacts_in("amplemarket")):
            doc = contact_document(
                contact_id=self.ids.directory("contact", contact.key),
                name=contact.name,
                email=contact.email,
                phone=contact.phone,
            )
            self.contacts[contact.key] = doc
            self.store.contacts.put(doc["id"], doc)
            in_sequence = index % 10 < 7
            for user_key, user in self.users.items():
                self.store.put_task(
                    task_document(
                        task_id=self.task_id(user_key, contact.key),
                        user=user,
                        contact=doc,
                        due_on=due_on,
                        sequence=self.sequences[user_key] if in_sequence else None,
                    )
                )
            if index % 10 == 0:
                self._seed_email_task(contact, doc)

    def _seed_email_task(self, contact: WorldContact, doc: dict[str, Any]) -> None:
        first_user = self.world.user_list[0].key
        finished = iso_second(self.world.start)
        self.store.put_task(
            task_document(
                task_id=self.ids.directory("email_task", contact.key),
                user=self.users[first_user],
                contact=doc,
                due_on=finished,
                task_type="email",
                automatic=True,
                status="completed",
                finished_on=finished,
                sequence=self.sequences[first_user],
            )
        )

    def task_id(self, user_key: str, contact_key: str) -> str:
        key = (user_key, contact_key)
        if key not in self.task_ids:
            self.task_ids[key] = self.ids.directory("task", user_key, contact_key)
        return self.task_ids[key]

    def _call(self, call: WorldCall) -> dict[str, Any]:
        external = call.twin_of is not None
        answered, human, slugs = OUTCOMES.get(call.outcome, (None, False, (None,)))
        slug = self.rng.choice(slugs)
        user = self.users[call.user.key]
        contact = self.contacts.get(call.contact.key)
        styles = _EXTERNAL_STYLES if external else _DIALER_STYLES
        ours = format_phone(user["_phone"], self.rng.choice(styles))
        theirs = format_phone(call.contact.phone, self.rng.choice(styles))
        outbound = call.direction == "outbound"
        recorded = call.has_recording and not external
        call_id = self.ids.call(call)
        recording_url = recording_path(call_id)
        return call_document(
            call_id=call_id,
            start_date=iso_second(call.started_at),
            from_number=ours if outbound else theirs,
            to_number=theirs if outbound else ours,
            duration=None if call.outcome == "failed" else call.duration,
            answered=answered,
            human=human,
            external=external,
            user=user,
            contact=contact,
            # Only outbound calls to known contacts run inside a task.
            task_id=self.task_id(call.user.key, call.contact.key) if outbound and contact else None,
            disposition=None if slug is None else self.dispositions[slug],
            # Logged calls cannot carry a direction or notes (POST /calls has neither field).
            direction=None if external else ("outgoing" if outbound else "incoming"),
            notes=None if external else call.note,
            transcription="Rep: Hi, is now a good time?" if recorded else None,
            recording_url=recording_url if recorded else None,
            recording_bytes=recording_size(call.duration) if recorded else None,
        )
