"""The shapes of Amplemarket records, built in one place so every writer agrees.

Field names and order follow the vendor doc: the call object (§1.3, the official example's
order first, then the fields only PostHog documents: ``recording_url``, ``direction``,
``disposition_name``, ``user_email``, ``transcript``), tasks (§1.13), dispositions (§1.9) and
users (docs.amplemarket.com/api-reference/users/get-users).
"""

from __future__ import annotations

from typing import Any

# The 201 body of POST /calls has exactly these keys, in this order (§1.7 example): no
# ``contact``, ``recording_url`` or PostHog-only fields, although GET /calls shows them later.
CREATED_CALL_KEYS = (
    "id",
    "disposition_id",
    "duration",
    "external",
    "start_date",
    "from",
    "to",
    "notes",
    "transcription",
    "task_id",
    "user_id",
    "human",
    "answered",
)


def contact_ref(contact: dict[str, Any] | None) -> dict[str, Any] | None:
    """How calls and tasks embed a contact: ``{id, name, email}`` (§1.3 contact table)."""
    if contact is None:
        return None
    return {"id": contact["id"], "name": contact["name"], "email": contact["email"]}


def call_document(
    *,
    call_id: str,
    start_date: str,
    from_number: str,
    to_number: str,
    duration: int | None,
    answered: bool | None,
    human: bool,
    external: bool,
    user: dict[str, Any],
    contact: dict[str, Any] | None,
    task_id: str | None,
    disposition: dict[str, Any] | None,
    direction: str | None,
    notes: str | None = None,
    transcription: str | None = None,
    recording_url: str | None = None,
    recording_bytes: int | None = None,
) -> dict[str, Any]:
    return {
        "id": call_id,
        "disposition_id": None if disposition is None else disposition["id"],
        "duration": duration,
        "external": external,
        "start_date": start_date,
        "from": from_number,
        "to": to_number,
        "notes": notes,
        "transcription": transcription,
        "task_id": task_id,
        "user_id": user["id"],
        "human": human,
        "answered": answered,
        "contact": contact_ref(contact),
        "recording_url": recording_url,
        "direction": direction,
        "disposition_name": None if disposition is None else disposition["name"],
        "user_email": user["email"],
        "transcript": [],
        # Private: the size of the in-app recording (None when there is none).
        "_recording_bytes": recording_bytes,
    }


def task_document(
    *,
    task_id: str,
    user: dict[str, Any],
    contact: dict[str, Any],
    due_on: str,
    task_type: str = "phone_call",
    automatic: bool = False,
    status: str = "scheduled",
    finished_on: str | None = None,
    sequence: dict[str, Any] | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    return {
        "id": task_id,
        "automatic": automatic,
        "type": task_type,
        "status": status,
        "due_on": due_on,
        "finished_on": finished_on,
        "notes": notes,
        "sequence_key": None if sequence is None else sequence["key"],
        "sequence_name": None if sequence is None else sequence["name"],
        "user_id": user["id"],
        "user_email": user["email"],
        "contact": contact_ref(contact),
    }


def user_document(
    *, user_id: str, name: str, email: str, phone: str, mailbox_id: str, role: str = "sales_rep"
) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "email": email,
        "status": "active",
        "role": role,
        "mailboxes": [{"id": mailbox_id, "email": email}],
        # Private: the number the user's dialer calls from.
        "_phone": phone,
    }


def contact_document(*, contact_id: str, name: str, email: str, phone: str) -> dict[str, Any]:
    return {"id": contact_id, "name": name, "email": email, "phone": phone}


def disposition_document(
    *, disposition_id: str, name: str, slug: str, action: str
) -> dict[str, Any]:
    return {"id": disposition_id, "name": name, "slug": slug, "action": action}
