"""Turn the vendor-neutral ``World`` into a Close organisation, in Close's own vocabulary.

- every world user becomes a Close user (``user_...``) with a phone used as ``local_phone``;
- the world's contacts that exist in Close (``world.contacts_in("close")``) become contacts with an
  E.164 phone and an e-mail, grouped into company leads of up to three contacts;
- each call made in Close becomes a ``source: "Close.io"`` call: ``call_method`` regular / power /
  predictive, Close's ``status`` + ``disposition`` (+ an outcome for connected calls) mapped from
  the canonical outcome here (the emulator never imports syncer), ``date_created`` = start of the
  call at whole seconds (many ties), ``date_updated`` a few seconds after it ended, ``cost`` a
  string of cents, recordings and voicemails with lazy transcripts;
- a call that duplicates one made in another tool (``twin_of``) was logged by an integration:
  ``source: "External"``, ``call_method: "external"``, no ``disposition`` and no ``local_phone*``,
  created by an hourly sync run (all calls of a run share one ``date_created``: ties), sometimes
  without a duration (null);
- calls to contacts missing in Close have ``lead_id``/``contact_id`` null;
- optionally, one ``created`` event per call still inside the event log's retention.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.emulation import World, WorldCall, WorldContact, WorldUser
from connectors.emulation.media import recording_path

from ._events import EventLog
from ._people import contact_record, lead_record
from ._state import CloseState, outcome_id_for, user_id_for
from ._support import ORG_ID, iso, make_id, micros, phone_fields

CONNECTED_OUTCOMES = (
    "Interested",
    "Not interested",
    "Meeting booked",
    "Call back later",
    None,
    None,
)
CONTACTS_PER_LEAD = 3


def contact_id_for(world_key: str) -> str:
    return make_id("cont", f"world:{world_key}")


def call_id_for(world_key: str) -> str:
    return make_id("acti", f"world:{world_key}")


@dataclass(frozen=True)
class SeedSummary:
    users: int
    leads: int
    contacts: int
    calls: int
    events: int


def close_result(call: WorldCall, method: str, rng: random.Random) -> tuple[str, str, str | None]:
    """(status, disposition, outcome name) for a call made in Close, from the canonical outcome."""
    outcome = call.outcome
    if outcome == "connected":
        return "completed", "answered", rng.choice(CONNECTED_OUTCOMES)
    if outcome == "no_answer":
        if method == "predictive" and rng.random() < 0.25:
            return "completed", "abandoned", None  # predictive only: nobody free to take it
        return "no-answer", "no-answer", None
    if outcome == "voicemail_left":
        drop = call.direction == "outbound" and method != "regular"
        return "completed", "vm-left", "Voicemail dropped" if drop else None
    if outcome == "voicemail_no_message":
        # vm-answer "currently only applicable to incoming calls".
        if call.direction == "inbound":
            return "completed", "vm-answer", None
        return "no-answer", "no-answer", None
    if outcome == "busy":
        return "busy", "busy", None
    if outcome == "message_left":
        return "completed", "answered", "Left message with gatekeeper"
    if outcome == "wrong_number":
        return "completed", "answered", "Wrong number"
    return "failed", "blocked" if rng.random() < 0.3 else "error", None


def external_status(outcome: str) -> str:
    return {"no_answer": "no-answer", "busy": "busy", "failed": "failed"}.get(outcome, "completed")


class Seeder:
    def __init__(
        self, state: CloseState, events: EventLog, now: datetime, seed_events: bool
    ) -> None:
        self.state = state
        self.events = events
        self.now = now
        self.seed_events = seed_events
        self.users: dict[str, tuple[str, str, str]] = {}  # world key -> (id, name, phone)
        self.lead_of: dict[str, str] = {}  # contact id -> lead id
        self.contact_ids: dict[str, str] = {}  # world key -> contact id

    def run(self, world: World) -> SeedSummary:
        with self.state.db.transaction():
            for user in world.user_list:
                self._user(user, world.start)
            leads, contacts = self._leads(world.contacts_in("close"), world.start)
            calls = events = 0
            rng = random.Random(f"close:{world.seed}")  # one stream: cheap and deterministic
            oldest_event = self.now - timedelta(days=self.events.settings.retention_days)
            for call in world.iter_calls("close"):
                rec, created = self._call(call, world.has_contact("close", call.contact), rng)
                doc = {"rec": rec, "created": micros(created), "activity": micros(call.started_at)}
                self.state.calls.put(rec["id"], doc, owner=rec["lead_id"] or "")
                calls += 1
                if self.seed_events and created >= oldest_event:
                    self.events.seed_created(rec, created)
                    events += 1
        return SeedSummary(len(world.user_list), leads, contacts, calls, events)

    # --- people -------------------------------------------------------------------------------

    def _user(self, user: WorldUser, start: datetime) -> None:
        user_id = user_id_for(user.key)
        first, _, last = user.name.partition(" ")
        self.state.put_user(
            user_id, first, last, user.email, user.phone, start - timedelta(days=400)
        )
        self.users[user.key] = (user_id, user.name, user.phone)

    def _leads(self, contacts: list[WorldContact], start: datetime) -> tuple[int, int]:
        by_company: dict[str, list[WorldContact]] = {}
        for contact in contacts:
            by_company.setdefault(contact.company, []).append(contact)
        leads = 0
        for company, members in by_company.items():
            for index, group in enumerate(_chunks(members, CONTACTS_PER_LEAD)):
                created = start - timedelta(days=200 - index % 150, minutes=leads)
                lead_id = make_id("lead", f"world:{company}:{index}")
                name = company if index == 0 else f"{company} ({index + 1})"
                self.state.put_lead(lead_record(lead_id, name, created, None))
                leads += 1
                for contact in group:
                    self._contact(contact, lead_id, created)
        return leads, len(contacts)

    def _contact(self, contact: WorldContact, lead_id: str, created: datetime) -> None:
        contact_id = contact_id_for(contact.key)
        kind = "office" if contact.main_line else "mobile"
        record = contact_record(
            contact_id,
            lead_id,
            contact.name,
            [(contact.phone, kind)],
            [(contact.email, "office")],
            created,
            None,
        )
        self.state.put_contact(record, fresh=True)
        self.lead_of[contact_id] = lead_id
        self.contact_ids[contact.key] = contact_id

    # --- calls --------------------------------------------------------------------------------

    def _call(
        self, call: WorldCall, known_contact: bool, rng: random.Random
    ) -> tuple[dict[str, Any], datetime]:
        """The call record and its ``date_created``."""
        user_id, user_name, user_phone = self.users[call.user.key]
        contact_id = self.contact_ids.get(call.contact.key) if known_contact else None
        base: dict[str, Any] = {
            "_type": "Call",
            "id": call_id_for(call.key),
            "organization_id": ORG_ID,
            "lead_id": self.lead_of.get(contact_id) if contact_id else None,
            "contact_id": contact_id,
            "user_id": user_id,
            "user_name": user_name,
            "created_by": user_id,
            "created_by_name": user_name,
            "updated_by": user_id,
            "updated_by_name": user_name,
            "direction": call.direction,
            **phone_fields("remote", call.contact.phone),
            "users": [],
            "sequence_id": None,
            "sequence_name": None,
            "sequence_subscription_id": None,
            "dialer_saved_search_id": None,
            "recording_transcript": None,
            "voicemail_transcript": None,
        }
        base["phone"] = call.contact.phone
        if call.twin_of is not None:
            return self._external(base, call, rng)
        return self._close_made(base, call, user_phone, rng)

    def _close_made(
        self, rec: dict[str, Any], call: WorldCall, user_phone: str, rng: random.Random
    ) -> tuple[dict[str, Any], datetime]:
        roll = rng.random()
        method = "predictive" if roll < 0.08 else "power" if roll < 0.3 else "regular"
        status, disposition, outcome = close_result(call, method, rng)
        duration = None if status == "failed" else call.duration  # integer field, arrives null
        updated = call.ended_at + timedelta(
            seconds=rng.randint(1, 4), milliseconds=rng.randint(0, 999)
        )
        rec.update(
            {
                "date_created": iso(call.started_at),
                "activity_at": iso(call.started_at),
                "date_updated": iso(updated),
                "source": "Close.io",
                "status": status,
                "disposition": disposition,
                "call_method": method,
                "duration": duration,
                "cost": str(math.ceil((duration or 0) / 60) * 2),
                **phone_fields("local", user_phone),
                "outcome_id": outcome_id_for(outcome) if outcome else None,
                "dialer_id": make_id("dial", f"{call.user.key}:{call.started_at.date()}")
                if method != "regular"
                else None,
            }
        )
        rec.update(_note(call.note))
        rec.update(_media(rec["id"], call, disposition, rng))
        return rec, call.started_at

    def _external(
        self, rec: dict[str, Any], call: WorldCall, rng: random.Random
    ) -> tuple[dict[str, Any], datetime]:
        created = sync_batch_time(call.ended_at)
        status = external_status(call.outcome)
        outcome = "Wrong number" if call.outcome == "wrong_number" else None
        rec.update(
            {
                "date_created": iso(created),
                "activity_at": iso(call.started_at),
                "date_updated": iso(created),
                "source": "External",
                "status": status,
                "disposition": None,
                "call_method": "external",
                "duration": None if rng.random() < 0.1 else call.duration,
                "cost": "0",
                "outcome_id": outcome_id_for(outcome) if outcome else None,
                "dialer_id": None,
                "recording_url": None,
                "voicemail_url": None,
                "voicemail_duration": None,
            }
        )
        rec.update(_note(call.note))
        return rec, created


def sync_batch_time(ended_at: datetime) -> datetime:
    """When an hourly integration sync logged a call: every call of one run shares the value.

    Close's ``date_created`` has millisecond precision "and ties exist" (§1.9): batch logging is
    where they come from, so a window boundary often falls inside a group of equal timestamps.
    """
    hour = (ended_at + timedelta(minutes=1)).replace(minute=0, second=0, microsecond=0)
    run = hour + timedelta(hours=1)
    return run + timedelta(milliseconds=int(run.timestamp()) // 3600 * 7919 % 1000)


def _chunks(items: list[WorldContact], size: int) -> Iterator[list[WorldContact]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _note(note: str | None) -> dict[str, Any]:
    if note is None:
        return {"note": "", "note_html": ""}
    return {"note": note, "note_html": f"<body><p>{note}</p></body>"}


def _media(call_id: str, call: WorldCall, disposition: str, rng: random.Random) -> dict[str, Any]:
    media: dict[str, Any] = {
        "recording_url": None,
        "voicemail_url": None,
        "voicemail_duration": None,
    }
    if call.has_recording:
        media["recording_url"] = recording_path(call_id)
        media["recording_transcript"] = _transcript(call, rng)
    if disposition == "vm-left" and call.direction == "inbound":
        media["voicemail_url"] = recording_path(f"{call_id}-vm")
        media["voicemail_duration"] = max(3, call.duration - rng.randint(2, 10))
        media["voicemail_transcript"] = _transcript(call, rng, voicemail=True)
    return media


def _transcript(call: WorldCall, rng: random.Random, voicemail: bool = False) -> dict[str, Any]:
    contact = call.contact.name
    lines = [(contact, "contact", f"Hi, this is {contact.split()[0]}, please leave a message.")]
    if not voicemail:
        lines = [
            (call.user.name, "close-user", f"Hi {contact.split()[0]}, it's {call.user.name}."),
            (contact, "contact", "Hi! Good timing, I had a question about pricing."),
            (call.user.name, "close-user", "Happy to help. Let's go through it."),
        ]
    utterances, clock = [], round(rng.uniform(0.1, 0.9), 1)
    for speaker, side, text in lines:
        end = round(clock + len(text) / 15, 1)
        utterances.append(
            {
                "speaker_label": speaker,
                "speaker_side": side,
                "start": clock,
                "end": end,
                "text": text,
            }
        )
        clock = round(end + 0.4, 1)
    summary = f"Call between {call.user.name} and {contact}."
    return {"utterances": utterances, "summary_text": summary, "summary_html": f"<p>{summary}</p>"}
