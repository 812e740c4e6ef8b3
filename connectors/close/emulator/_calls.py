"""Call activities: create, update and delete with Close's rules (§1.3-§1.6).

``CallBook`` is used both by the HTTP handlers and by the admin helpers that act "as a user in
Close's UI"; every change is logged in the event log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._call_rules import (
    CHECKS,
    CREATE_KEYS,
    MEDIA_FIELDS,
    UPDATE_KEYS,
    VOIP_LOCKED,
    apply_extras,
    apply_notes,
    public,
    reject_unknown,
    remote_phone,
    stored_call,
    touches_recording,
)
from ._events import Change, EventLog, Origin
from ._state import CloseState
from ._support import ORG_ID, iso, make_id, not_found, validation


class CallBook:
    """Create, change and delete calls with Close's rules; every change is logged as an event."""

    def __init__(self, state: CloseState, events: EventLog) -> None:
        self.state = state
        self.events = events
        self.custom_fields = state.db.collection("close_call_custom_fields")

    # --- reads --------------------------------------------------------------------------------

    def get(self, call_id: str) -> dict[str, Any] | None:
        found = self.state.calls.get(call_id)
        return None if found is None else dict(found["rec"])

    def put(self, rec: dict[str, Any]) -> None:
        self.state.calls.put(rec["id"], stored_call(rec), owner=rec["lead_id"] or "")

    # --- create -------------------------------------------------------------------------------

    def create(
        self,
        body: dict[str, Any],
        origin: Origin,
        now: datetime,
        internal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Log a call; ``internal`` sets what only Close's own telephony can (admin helper)."""
        reject_unknown(body, CREATE_KEYS)
        errors: dict[str, str] = {}
        fields = self._validated(body, errors, creating=True)
        if body.get("organization_id", ORG_ID) != ORG_ID:
            errors["organization_id"] = "Invalid organization."
        if errors:
            raise validation(errors)
        call_id = make_id("acti", self.state.next_token("acti"))
        user_id = fields.get("user_id") or origin.caller.user_id
        creator = body.get("created_by_id") or body.get("created_by") or origin.caller.user_id
        rec = self._new_record(call_id, fields, user_id, creator, now)
        rec.update(internal or {})
        self.put(rec)
        self.events.record(
            Change("activity.call", call_id, rec["lead_id"], "created", now, public(rec), None, []),
            origin,
        )
        return rec

    def _new_record(
        self, call_id: str, fields: dict[str, Any], user_id: str, creator: str, now: datetime
    ) -> dict[str, Any]:
        phone = fields.get("phone")
        rec: dict[str, Any] = {
            "_type": "Call",
            "id": call_id,
            "organization_id": ORG_ID,
            "lead_id": fields["lead_id"],
            "contact_id": fields.get("contact_id"),
            "user_id": user_id,
            "user_name": self.state.user_name(user_id),
            "created_by": creator,
            "created_by_name": self.state.user_name(creator),
            "updated_by": creator,
            "updated_by_name": self.state.user_name(creator),
            "date_created": iso(fields.get("date_created") or now),
            "date_updated": iso(now),
            "activity_at": iso(fields.get("activity_at") or fields.get("date_created") or now),
            "source": fields.get("source", "External"),
            "status": fields.get("status", "completed"),  # "status defaults to completed"
            # UNCONFIRMED defaults: no direction and no duration sent -> null, not a guess.
            "direction": fields.get("direction"),
            "disposition": None,  # not writable by external loggers (§1.4); UNCONFIRMED value
            "call_method": "external",  # what the create example returns (§1.4)
            "duration": fields.get("duration"),
            "cost": "0",  # a string of cents (gotcha a)
            **remote_phone(phone),
            "note": "",
            "note_html": "",
            "outcome_id": fields.get("outcome_id"),
            "recording_url": fields.get("recording_url"),
            "voicemail_url": fields.get("voicemail_url"),
            "voicemail_duration": None,
            "dialer_id": None,
            "dialer_saved_search_id": None,
            "users": [],
            "sequence_id": None,
            "sequence_name": None,
            "sequence_subscription_id": None,
            "recording_transcript": None,
            "voicemail_transcript": None,
        }
        apply_notes(rec, fields)
        apply_extras(rec, fields)
        return rec

    # --- update -------------------------------------------------------------------------------

    def update(
        self, call_id: str, body: dict[str, Any], origin: Origin, now: datetime
    ) -> dict[str, Any]:
        old = self.get(call_id)
        if old is None:
            raise not_found()
        reject_unknown(body, UPDATE_KEYS)
        errors: dict[str, str] = {}
        fields = self._validated(body, errors, creating=False, current=old)
        self._check_voip_rules(old, body, origin, errors)
        if errors:
            raise validation(errors)
        new = self._apply_update(old, fields, body, origin, now)
        self.events.freeze_seeded(call_id, public(old))
        self.put(new)
        before, after = public(old), public(new)
        changed = [key for key in after if before.get(key) != after[key]]
        previous = {key: before.get(key) for key in changed}
        self.events.record(
            Change(
                "activity.call", call_id, new["lead_id"], "updated", now, after, previous, changed
            ),
            origin,
        )
        return new

    def _apply_update(
        self,
        old: dict[str, Any],
        fields: dict[str, Any],
        body: dict[str, Any],
        origin: Origin,
        now: datetime,
    ) -> dict[str, Any]:
        new = dict(old)
        for key in (
            "lead_id",
            "contact_id",
            "status",
            "duration",
            "outcome_id",
            "recording_url",
            "voicemail_url",
        ):
            if key in fields:
                new[key] = fields[key]
        if "activity_at" in fields:
            new["activity_at"] = iso(fields["activity_at"])
        if "user_id" in fields:
            new["user_id"] = fields["user_id"]
            new["user_name"] = self.state.user_name(fields["user_id"])
        if "phone" in fields:
            new.update(remote_phone(fields["phone"]))
        if old["source"] == "Close.io" and touches_recording(old, body):
            new["recording_transcript"] = None  # the recording/transcript is deleted for good
        if "recording_transcript" in body:
            new["recording_transcript"] = None
        apply_notes(new, fields)
        apply_extras(new, fields)
        new["date_updated"] = iso(now)
        new["updated_by"] = origin.caller.user_id
        new["updated_by_name"] = self.state.user_name(origin.caller.user_id)
        return new

    def _check_voip_rules(
        self, old: dict[str, Any], body: dict[str, Any], origin: Origin, errors: dict[str, str]
    ) -> None:
        if old["source"] != "Close.io":
            return
        for key in VOIP_LOCKED:
            if key in body and body[key] != old.get(key):
                errors[key] = "This field cannot be changed on calls made through Close."
        touched = [key for key in MEDIA_FIELDS if key in body and body[key] != old.get(key)]
        own = old["user_id"] == origin.caller.user_id
        if touched and not (own or origin.caller.is_admin):
            # Deleting media needs delete_own_activities (own) or manage_others_activities (§1.6).
            for key in touched:
                errors[key] = "You don't have permission to delete this call's recording."

    # --- delete -------------------------------------------------------------------------------

    def delete(self, call_id: str, origin: Origin, now: datetime) -> None:
        old = self.get(call_id)
        if old is None:
            raise not_found()
        self.events.freeze_seeded(call_id, public(old))
        self.state.calls.delete(call_id)
        self.events.record(
            Change("activity.call", call_id, old["lead_id"], "deleted", now, None, public(old), []),
            origin,
        )

    # --- validation ---------------------------------------------------------------------------

    def _validated(
        self,
        body: dict[str, Any],
        errors: dict[str, str],
        *,
        creating: bool,
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key, check in CHECKS.items():
            if key in body:
                value, error = check(body[key])
                if error:
                    errors[key] = error
                else:
                    fields[key] = value
        self._check_links(body, fields, errors, creating, current)
        self._check_custom(body, fields, errors)
        return fields

    def _check_links(
        self,
        body: dict[str, Any],
        fields: dict[str, Any],
        errors: dict[str, str],
        creating: bool,
        current: dict[str, Any] | None,
    ) -> None:
        lead_id = body.get("lead_id", current["lead_id"] if current else None)
        if creating and not lead_id:
            # UNCONFIRMED whether Close accepts a call without lead_id; we refuse (strict).
            errors["lead_id"] = "This field is required."
        elif "lead_id" in body and (
            not isinstance(lead_id, str) or self.state.lead(lead_id) is None
        ):
            errors["lead_id"] = "Lead does not exist."
        else:
            fields["lead_id"] = lead_id
        self._check_contact(body, fields, errors, lead_id, current)
        for key in ("user_id", "created_by_id", "created_by"):
            user_id = body.get(key)
            if user_id is not None and (
                not isinstance(user_id, str) or self.state.user(user_id) is None
            ):
                errors[key] = "User does not exist."
        self._check_outcome(body, fields, errors, current)

    def _check_contact(
        self,
        body: dict[str, Any],
        fields: dict[str, Any],
        errors: dict[str, str],
        lead_id: Any,
        current: dict[str, Any] | None,
    ) -> None:
        contact_id = body.get("contact_id", current["contact_id"] if current else None)
        if contact_id is None:
            fields["contact_id"] = None
            return
        contact = self.state.contact(contact_id) if isinstance(contact_id, str) else None
        if contact is None:
            errors["contact_id"] = "Contact does not exist."
        elif contact["lead_id"] != lead_id:
            errors["contact_id"] = "Contact does not belong to this lead."
        else:
            fields["contact_id"] = contact_id

    def _check_outcome(
        self,
        body: dict[str, Any],
        fields: dict[str, Any],
        errors: dict[str, str],
        current: dict[str, Any] | None,
    ) -> None:
        if "outcome_id" not in body:
            return
        outcome_id = body["outcome_id"]
        status = fields.get("status", current["status"] if current else "completed")
        if outcome_id is None:
            fields["outcome_id"] = None
        elif not isinstance(outcome_id, str) or self.state.outcome(outcome_id) is None:
            # Also for deleted outcomes: they "can no longer be fetched or set" (§1.7).
            errors["outcome_id"] = "Outcome does not exist."
        elif status != "completed":
            # "Only calls that connected can carry a custom outcome" (§1.7), read strictly.
            errors["outcome_id"] = "An outcome can only be set on a call that connected."
        else:
            fields["outcome_id"] = outcome_id

    def _check_custom(
        self, body: dict[str, Any], fields: dict[str, Any], errors: dict[str, str]
    ) -> None:
        raw = body.get("custom_fields") or {}
        if not isinstance(raw, dict):
            errors["custom_fields"] = "Must be an object."
            raw = {}
        values = dict(raw)
        values.update(
            {
                key[len("custom.") :]: value
                for key, value in body.items()
                if key.startswith("custom.")
            }
        )
        for field_id, value in values.items():
            if self.custom_fields.get(field_id) is None:
                errors[f"custom.{field_id}"] = "Unknown custom field."
            else:
                fields[f"custom.{field_id}"] = value

    def add_custom_field(self, name: str) -> str:
        field_id = make_id("cf", f"call:{name}")
        self.custom_fields.put(field_id, {"id": field_id, "name": name})
        return field_id
