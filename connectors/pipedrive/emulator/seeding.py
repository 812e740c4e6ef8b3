"""Turn the vendor-neutral ``World`` into one Pipedrive company's records, in one transaction.

What a seeded company holds:
- one Pipedrive user per world user (the first is the admin), each with its own API token
  (``demo_api_token(user.key)``);
- one organization per company and one person per contact that exists in Pipedrive, phones
  kept in the varied formats people type (Pipedrive does not normalise), shared main lines
  included; one open deal per organization and a lead for every 9th person;
- per world call logged in Pipedrive: a call log (outcome in Pipedrive's vocabulary, duration
  a string, no direction field: the numbers tell it) and its ``call`` activity, added by the
  telephony integration's once-a-minute push (second precision, many ties); calls to
  contacts missing in Pipedrive have no person (``person_id`` null); most have no deal
  (``deal_id`` null);
  some activities were edited later (``update_time`` > ``add_time``); connected calls with a
  recording have ``has_recording`` and stored bytes;
- a follow-up ``task`` activity after every 12th call, so activity lists mix types.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.emulation import World, WorldCall
from connectors.emulation.world import WorldContact, format_phone
from connectors.pipedrive.emulator.records import (
    FIRST_ID,
    CallLogInput,
    blank_activity,
    build_call_activity,
    build_call_log,
    deal_doc,
    demo_api_token,
    lead_doc,
    lead_uuid,
    person_doc,
    set_due,
    set_participant,
)
from connectors.pipedrive.emulator.store import PipedriveStore
from connectors.pipedrive.emulator.wire import rfc3339, v1_time

# Canonical outcome -> Pipedrive call-log outcome (§2.5 has only six values; the closest one
# stands in for the rest, the emulator must not import syncer's mappings).
OUTCOME_TO_PIPEDRIVE = {
    "connected": "connected",
    "no_answer": "no_answer",
    "voicemail_left": "left_voicemail",
    "voicemail_no_message": "no_answer",
    "voicemail": "left_voicemail",
    "busy": "busy",
    "message_left": "left_message",
    "wrong_number": "wrong_number",
    "failed": "no_answer",
    "blocked": "no_answer",
    "abandoned": "no_answer",
}

EDITED_EVERY = 25  # every Nth call activity was edited hours after it was logged
TASK_EVERY = 12  # a follow-up task after every Nth call
LEAD_EVERY = 9  # every Nth person has an open lead
FAKE_AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00"  # a tiny MP3-looking header for seeded recordings


@dataclass
class _Ids:
    """Id counters read once and written back once, so seeding costs O(records) statements."""

    store: PipedriveStore
    next: dict[str, int] = field(default_factory=dict)

    def take(self, kind: str) -> int:
        if kind not in self.next:
            self.next[kind] = int(
                self.store.state.get_meta(f"next_{kind}", str(FIRST_ID[kind])) or 0
            )
        value = self.next[kind]
        self.next[kind] = value + 1
        return value

    def save(self) -> None:
        for kind, value in self.next.items():
            self.store.state.set_meta(f"next_{kind}", str(value))


@dataclass
class _Account:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # world user key -> user
    persons: dict[str, dict[str, Any]] = field(default_factory=dict)  # contact key -> person
    deals: dict[int, int] = field(default_factory=dict)  # org id -> deal id
    leads: dict[int, str] = field(default_factory=dict)  # person id -> lead id


def seed_world(store: PipedriveStore, world: World) -> None:
    if store.state.get_meta("seeded") is not None:
        raise ValueError("this Pipedrive emulator state is already seeded")
    ids = _Ids(store)
    account = _Account()
    with store.state.transaction():
        _seed_users(store, ids, world, account)
        _seed_contacts(store, ids, world, account)
        for index, call in enumerate(world.iter_calls("pipedrive")):
            _seed_call(store, ids, account, call, index)
        ids.save()
        store.state.set_meta("seeded", "1")
    store.invalidate_caches()


def _seed_users(store: PipedriveStore, ids: _Ids, world: World, account: _Account) -> None:
    created = v1_time(world.start - timedelta(days=365))
    for index, person in enumerate(world.user_list):
        user: dict[str, Any] = {
            "id": ids.take("user"),
            "name": person.name,
            "email": person.email,
            "phone": person.phone,
            "api_token": demo_api_token(person.key),
            "is_admin": index == 0,
            "created": created,
        }
        store.users.put(user["id"], user)
        account.users[person.key] = user


def _seed_contacts(store: PipedriveStore, ids: _Ids, world: World, account: _Account) -> None:
    added = world.start - timedelta(days=30)
    owners = list(account.users.values())
    orgs: dict[str, int] = {}
    for index, contact in enumerate(world.contacts_in("pipedrive")):
        owner_id = owners[index % len(owners)]["id"]
        org_id = orgs.get(contact.company)
        if org_id is None:
            org_id = orgs[contact.company] = ids.take("org")
            store.orgs.put(org_id, {"id": org_id, "name": contact.company, "owner_id": owner_id})
        person_id = ids.take("person")
        phone = format_phone(contact.phone, index)
        doc = person_doc(person_id, contact.name, [phone], [contact.email], org_id, owner_id, added)
        store.persons.put(person_id, doc, owner=owner_id)
        account.persons[contact.key] = doc
        _seed_deals_and_leads(store, ids, account, doc, index)


def _seed_deals_and_leads(
    store: PipedriveStore, ids: _Ids, account: _Account, person: dict[str, Any], index: int
) -> None:
    org_id = person["org_id"]
    if org_id not in account.deals:
        deal_id = account.deals[org_id] = ids.take("deal")
        title = f"{person['name'].split()[-1]} deal"
        store.deals.put(deal_id, deal_doc(deal_id, title, person["id"], org_id, person["owner_id"]))
    if index % LEAD_EVERY == 0:
        lead_id = account.leads[person["id"]] = lead_uuid(ids.take("lead"))
        store.leads.put(lead_id, lead_doc(lead_id, f"Lead: {person['name']}", person["id"], org_id))


def _seed_call(
    store: PipedriveStore, ids: _Ids, account: _Account, call: WorldCall, index: int
) -> None:
    user = account.users[call.user.key]
    person = account.persons.get(call.contact.key)
    data = _call_input(account, call, user, person)
    added = _logged_at(call)
    activity = build_call_activity(ids.take("activity"), data, added)
    log = build_call_log(ids.take("call_log"), data, activity["id"])
    activity["_call_log_id"] = log["id"]
    if index % EDITED_EVERY == EDITED_EVERY - 1:
        # Edited in the UI hours later: a newer update_time, and the note the log shows too.
        activity["update_time"] = rfc3339(added + timedelta(hours=3, seconds=_mix(call.key) % 600))
        activity["note"] = log["note"] = (log["note"] or "") + "<p>Follow-up booked</p>"
    if call.has_recording:
        log["has_recording"] = True
        store.recordings.put(
            log["id"],
            {
                "content": (FAKE_AUDIO + call.key.encode()).hex(),
                "filename": f"{call.key}.mp3",
                "content_type": "audio/mpeg",
            },
        )
    store.call_logs.put(log["id"], log, owner=user["id"])
    store.activities.put(activity["id"], activity, owner=user["id"])
    if index % TASK_EVERY == TASK_EVERY - 1:
        _seed_follow_up(store, ids, call, user, person, added)


def _call_input(
    account: _Account, call: WorldCall, user: dict[str, Any], person: dict[str, Any] | None
) -> CallLogInput:
    mix = _mix(call.key)
    their_number = format_phone(call.contact.phone, mix)
    # The provider mostly reports the rep's own line in E.164, but not always.
    our_number = format_phone(call.user.phone, 0 if mix % 3 else mix // 3)
    outbound = call.direction == "outbound"
    deal_id, lead_id = _links(account, person, mix)
    return CallLogInput(
        user_id=user["id"],
        outcome=OUTCOME_TO_PIPEDRIVE.get(call.outcome, "no_answer"),
        to_phone_number=their_number if outbound else our_number,
        from_phone_number=our_number if outbound else their_number,
        start=call.started_at,
        end=call.ended_at,
        subject=_subject(call.contact, outbound),
        duration=str(call.duration),
        person_id=None if person is None else person["id"],
        org_id=None if person is None else person["org_id"],
        deal_id=deal_id,
        lead_id=lead_id,
        note=None if call.note is None else f"<p>{call.note}</p>",
    )


def late_call_input(
    store: PipedriveStore, call: WorldCall, user_id: int | None = None
) -> CallLogInput:
    """What the telephony integration pushes for ``call`` when it is logged after the seeding
    (by ``user_id`` instead of the call's rep if given); the person is found by e-mail."""
    user = next(u for u in store.all_users() if u["email"] == call.user.email)
    if user_id is not None:
        user = store.user(user_id) or user
    person = next(
        (
            stored.doc
            for stored in store.persons.scan()
            if any(e["value"] == call.contact.email for e in stored.doc["emails"])
        ),
        None,
    )
    account = _Account(users={call.user.key: user})
    return _call_input(account, call, user, person)


def _links(
    account: _Account, person: dict[str, Any] | None, mix: int
) -> tuple[int | None, str | None]:
    """A deal for a quarter of known persons' calls, else sometimes their lead (never both)."""
    if person is None:
        return None, None
    if mix % 4 == 0:
        return account.deals.get(person["org_id"]), None
    if mix % 4 == 1:
        return None, account.leads.get(person["id"])
    return None, None


def _seed_follow_up(
    store: PipedriveStore,
    ids: _Ids,
    call: WorldCall,
    user: dict[str, Any],
    person: dict[str, Any] | None,
    logged: datetime,
) -> None:
    task = blank_activity(ids.take("activity"), "task", user["id"], logged + timedelta(seconds=60))
    task["subject"] = f"Follow up with {call.contact.name}"
    set_participant(task, None if person is None else person["id"])
    task["org_id"] = None if person is None else person["org_id"]
    set_due(task, call.started_at + timedelta(days=1))
    store.activities.put(task["id"], task, owner=user["id"])


def _logged_at(call: WorldCall) -> datetime:
    """The telephony integration pushes finished calls once a minute, so many activities of a
    busy team share one ``add_time`` second (the ties incremental cursors must survive)."""
    ended = call.ended_at
    return ended.replace(second=0) + timedelta(minutes=1, seconds=_mix(call.key) % 2)


def _subject(contact: WorldContact, outbound: bool) -> str:
    return f"Outbound call to {contact.name}" if outbound else f"Inbound call from {contact.name}"


def _mix(key: str) -> int:
    """A stable per-call number to vary formats and links deterministically."""
    return zlib.crc32(key.encode())
