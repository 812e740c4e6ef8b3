"""Turn the vendor-neutral ``World`` into an Outreach org, in Outreach's own vocabulary.

- users from ``world.user_list``; the first one is the user the demo OAuth grant acts for;
- call dispositions and purposes an Outreach admin would set up (two dispositions and one
  purpose have a null ``order``: an integer that arrives null);
- one prospect per contact that exists in Outreach (``world.contacts_in("outreach")``), with
  its number in one of the phone arrays, written the way people type it (``format_phone``),
  and one normalised ``phoneNumber`` record per number;
- one call per world call logged in Outreach. Canonical outcomes become Outreach's binary
  ``outcome`` plus a disposition; voicemails are "Not Answered" yet have ``answeredAt`` (the
  data dictionary counts a machine pick-up as answered); failed calls have no disposition.
  One call in nine (never a twin of a call in another tool) is logged by hand: dialed,
  answered and completed timestamps are null and ``createdAt`` is the logging time, not the
  call time. A call whose contact is missing in Outreach has a null prospect (an unknown
  number). One dialer call in four was touched by the nightly CRM sync, so its
  ``updatedAt`` is that night's 23:00:00 and is shared by many calls (ties at scale).
Everything is written in one transaction, so 100k calls take seconds. The ids of what was
seeded are kept in the state (``outreach.world_org``), so a call can be logged later by the
same rules (``late_call_doc``, the demo's arrivals).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.emulation.media import recording_path
from connectors.emulation.world import World, WorldCall, WorldContact, format_phone
from connectors.outreach.emulator.jsonapi import iso
from connectors.outreach.emulator.listing import Doc
from connectors.outreach.emulator.store import CALL_ATTRIBUTES, CALL_RELATIONSHIPS, OutreachStore

DISPOSITIONS = (
    ("Answered - Interested", "Answered", 1),
    ("Answered - Not Interested", "Answered", 2),
    ("Meeting Booked", "Answered", 3),
    ("Left Message - Gatekeeper", "Answered", 4),
    ("Wrong Number", "Answered", None),
    ("Left Voicemail", "Not Answered", 5),
    ("Voicemail - No Message", "Not Answered", 6),
    ("No Answer", "Not Answered", 7),
    ("Busy", "Not Answered", None),
)
PURPOSES = (("Prospecting", 1), ("Follow-up", 2), ("Discovery", None))
ORG_META = "outreach.world_org"


@dataclass(frozen=True)
class OutcomeRule:
    outcome: str
    dispositions: tuple[str, ...]
    state: str | None
    picked_up: bool  # answeredAt is set (a person or a voicemail box answered)


# Canonical outcome names (the world's vocabulary) -> how an Outreach rep's call records it.
OUTCOMES = {
    "connected": OutcomeRule(
        "Answered",
        ("Answered - Interested", "Answered - Not Interested", "Meeting Booked"),
        "completed",
        True,
    ),
    "message_left": OutcomeRule("Answered", ("Left Message - Gatekeeper",), "completed", True),
    "wrong_number": OutcomeRule("Answered", ("Wrong Number",), "completed", True),
    "voicemail_left": OutcomeRule("Not Answered", ("Left Voicemail",), "completed", True),
    "voicemail_no_message": OutcomeRule(
        "Not Answered", ("Voicemail - No Message",), "completed", True
    ),
    "no_answer": OutcomeRule("Not Answered", ("No Answer",), "no_answer", False),
    "busy": OutcomeRule("Not Answered", ("Busy",), "no_answer", False),
    "failed": OutcomeRule("Not Answered", (), "failed", False),
}
UNKNOWN_OUTCOME = OutcomeRule("Not Answered", (), None, False)
TAGS = {"Answered - Interested": ["Interested"], "Meeting Booked": ["Interested", "Meeting Booked"]}


@dataclass
class _Org:
    """Ids of what was seeded so far, by the world's keys and by name."""

    users: dict[str, int]
    user_phones: dict[int, str]
    dispositions: dict[str, int]
    purposes: list[int | None]
    prospects: dict[str, int]
    prospect_numbers: dict[str, tuple[str, int | None]]  # contact key -> (as typed, phoneNumber)

    @property
    def user_list(self) -> list[int]:
        return list(self.users.values())

    def to_meta(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def from_meta(cls, raw: str) -> _Org:
        data = json.loads(raw)
        return cls(
            data["users"],
            {int(ident): phone for ident, phone in data["user_phones"].items()},
            data["dispositions"],
            data["purposes"],
            data["prospects"],
            {key: (typed, number) for key, (typed, number) in data["prospect_numbers"].items()},
        )


def seed(store: OutreachStore, world: World) -> int:
    """Write ``world`` into ``store`` (inside ``store.bulk_ids()``); returns the first user."""
    setup_at = world.start - timedelta(days=60)
    org = _Org({}, {}, {}, [], {}, {})
    for user in world.user_list:
        first, _, last = user.name.partition(" ")
        ident = store.add_user(first=first, last=last, email=user.email, phone=user.phone,
                               at=setup_at)  # fmt: skip
        org.users[user.key] = ident
        org.user_phones[ident] = user.phone
    for name, outcome, order in DISPOSITIONS:
        org.dispositions[name] = store.add_disposition(name, outcome, order, setup_at)
    org.purposes = [store.add_purpose(name, order, setup_at) for name, order in PURPOSES]
    org.purposes.insert(0, None)  # one call in four has no purpose
    for index, contact in enumerate(world.contacts_in("outreach")):
        _seed_prospect(store, org, index, contact, world.start)
    _seed_calls(store, org, world)
    store.state.set_meta(ORG_META, org.to_meta())
    return org.users[world.user_list[0].key]


def late_call_doc(store: OutreachStore, call: WorldCall, now: datetime) -> Doc:
    """A call logged ``now`` by the seeding's rules (``createdAt``/``updatedAt`` = now)."""
    raw = store.state.get_meta(ORG_META)
    if raw is None:
        raise LookupError("no world has been seeded")
    index = int(hashlib.blake2b(call.key.encode(), digest_size=4).hexdigest(), 16)
    doc = _call_doc(_Org.from_meta(raw), index, store.allocate("call"), call)
    doc["createdAt"] = doc["updatedAt"] = iso(now)
    doc["attributes"].update(createdAt=iso(now), updatedAt=iso(now))
    return doc


def _seed_prospect(
    store: OutreachStore, org: _Org, index: int, contact: WorldContact, start: datetime
) -> None:
    first, _, last = contact.name.partition(" ")
    field = ("mobilePhones", "mobilePhones", "workPhones", "otherPhones")[index % 4]
    if contact.main_line:
        field = "workPhones"  # a company's switchboard
    typed = format_phone(contact.phone, index)
    owner = org.user_list[index % len(org.user_list)]
    ident, numbers = store.add_prospect(
        first=first, last=last, emails=[contact.email], phones={field: [typed]},
        company=contact.company, owner=owner, at=start - timedelta(days=30 - index % 30),
    )  # fmt: skip
    org.prospects[contact.key] = ident
    org.prospect_numbers[contact.key] = (typed, numbers[typed])


def _seed_calls(store: OutreachStore, org: _Org, world: World) -> None:
    for index, call in enumerate(world.iter_calls("outreach")):
        store.put_call(_call_doc(org, index, store.allocate("call"), call))


def _call_doc(org: _Org, index: int, ident: int, call: WorldCall) -> Doc:
    manual = index % 9 == 4 and call.twin_of is None
    rule = OUTCOMES.get(call.outcome, UNKNOWN_OUTCOME)
    disposition = rule.dispositions[index % len(rule.dispositions)] if rule.dispositions else None
    prospect = org.prospects.get(call.contact.key)
    typed, phone_number = org.prospect_numbers.get(call.contact.key, (call.contact.phone, None))
    if manual:  # the rep types the number in by hand
        typed, phone_number = format_phone(call.contact.phone, index + 1), None
    user_number = call.user.phone
    from_, to = (user_number, typed) if call.direction == "outbound" else (typed, user_number)
    attributes: Doc = dict.fromkeys(CALL_ATTRIBUTES)
    attributes.update({
        "direction": call.direction, "from": from_, "to": to, "note": call.note,
        "outcome": rule.outcome, "sequenceAction": _sequence_action(call, disposition, index),
    })  # fmt: skip
    if manual:
        created = updated = call.ended_at + timedelta(seconds=60 + index % 540)
    else:
        created, updated = _dialer_attributes(attributes, call, rule, disposition, ident, index)
    rels: Doc = dict.fromkeys(CALL_RELATIONSHIPS)
    rels.update({
        "prospect": prospect, "user": org.users[call.user.key],
        "callDisposition": org.dispositions[disposition] if disposition else None,
        "callPurpose": org.purposes[index % len(org.purposes)],
        "phoneNumber": phone_number if prospect else None,
    })  # fmt: skip
    stamp_created, stamp_updated = iso(created), iso(updated)
    attributes.update({"createdAt": stamp_created, "updatedAt": stamp_updated})
    return {"id": ident, "createdAt": stamp_created, "updatedAt": stamp_updated,
            "attributes": attributes, "rels": rels}  # fmt: skip


def _dialer_attributes(
    attributes: Doc, call: WorldCall, rule: OutcomeRule, disposition: str | None,
    ident: int, index: int,
) -> tuple[datetime, datetime]:  # fmt: skip
    """Fill what Outreach's dialer records; returns (createdAt, updatedAt)."""
    dialed = call.started_at
    answered = dialed + timedelta(seconds=3 + index % 6) if rule.picked_up else None
    completed = (answered or dialed) + timedelta(seconds=call.duration)
    voip = index % 5 != 0
    digest = hashlib.blake2b(call.key.encode(), digest_size=16).hexdigest()
    attributes.update({
        "dialedAt": iso(dialed), "answeredAt": iso(answered) if answered else None,
        "completedAt": iso(completed), "state": rule.state, "stateChangedAt": iso(completed),
        "userCallType": "voip" if voip else "bridge",
        "externalVendor": "Twilio" if voip else None, "vendorCallId": f"CA{digest}",
        "uid": f"{digest[:8]}-{ident}-trace", "shouldRecordCall": call.has_recording or voip,
        "recordingUrl": recording_path(f"call-{ident}") if call.has_recording else None,
        "tags": TAGS.get(disposition or "", []),
    })  # fmt: skip
    if call.direction == "inbound" and call.outcome == "voicemail_left":
        attributes["voicemailRecordingUrl"] = recording_path(f"voicemail-{ident}")
    updated = completed + timedelta(seconds=index % 3)
    if index % 4 == 1:  # the nightly CRM sync touched it
        nightly = completed.replace(hour=23, minute=0, second=0, microsecond=0)
        updated = nightly if nightly >= completed else nightly + timedelta(days=1)
    return dialed, updated


def _sequence_action(call: WorldCall, disposition: str | None, index: int) -> str | None:
    if disposition == "Meeting Booked":
        return "Finish"
    if call.outcome == "no_answer" and index % 3 == 0:
        return "Advance"
    return None
