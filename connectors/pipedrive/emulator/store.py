"""The emulated Pipedrive company's records, kept in StateDB, and the operations on them.

Every record that must survive a restart (users and their API tokens, persons, organizations,
deals, leads, call logs, recordings, activities, id counters) is a StateDB document or meta key.
The only Python-side data are caches derived from StateDB (token lookup, call-log offsets,
the person search index version), which are safe to lose.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from connectors.emulation import Clock, StateDB
from connectors.pipedrive.emulator.records import (
    FIRST_ID,
    CallLogInput,
    build_call_activity,
    build_call_log,
    deal_doc,
    lead_doc,
    lead_uuid,
    mark_done,
    person_doc,
)
from connectors.pipedrive.emulator.wire import rfc3339, v1_time, whole_seconds


class PipedriveStore:
    """Collections of one Pipedrive company plus the mutations the API and admins perform."""

    def __init__(self, state: StateDB, clock: Clock) -> None:
        self.state = state
        self.clock = clock
        self.users = state.collection("users")  # looked up by token via a derived cache
        self.orgs = state.collection("orgs")
        self.persons = state.collection("persons")
        self.deals = state.collection("deals")
        self.leads = state.collection("leads")
        self.call_logs = state.collection("call_logs")  # owner = user_id
        self.call_log_tombstones = state.collection("call_log_tombstones")
        self.recordings = state.collection("recordings")
        self.activities = state.collection("activities", keys=("update_time", "add_time", "_due"))
        self.purge_queue = state.collection("activity_purge", keys=("deleted_at",))
        self._lock = threading.RLock()
        self._tokens: dict[str, dict[str, Any]] | None = None
        # (owner, start) -> seq of the call log just before that offset; see call_log_page.
        self._offsets: dict[tuple[int, int], int] = {}
        self.persons_version = 0

    def now(self) -> datetime:
        return whole_seconds(self.clock.now())

    # --- ids ----------------------------------------------------------------------------------

    def allocate(self, kind: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive ids of ``kind`` (kept in meta, so restarts continue)."""
        with self.state.lock:
            first = int(self.state.get_meta(f"next_{kind}", str(FIRST_ID[kind])) or 0)
            self.state.set_meta(f"next_{kind}", str(first + count))
            return first

    def invalidate_caches(self) -> None:
        with self._lock:
            self._tokens = None
            self._offsets.clear()
            self.persons_version += 1

    # --- users --------------------------------------------------------------------------------

    def add_user(
        self, name: str, email: str, phone: str | None, *, admin: bool, token: str
    ) -> dict[str, Any]:
        user_id = self.allocate("user")
        user = {
            "id": user_id,
            "name": name,
            "email": email,
            "phone": phone,
            "api_token": token,
            "is_admin": admin,
            "created": v1_time(self.now()),
        }
        self.users.put(user_id, user)
        with self._lock:
            self._tokens = None
        return user

    def user_by_token(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            if self._tokens is None:
                self._tokens = {doc.doc["api_token"]: doc.doc for doc in self.users.scan()}
            return self._tokens.get(token)

    def user(self, user_id: int) -> dict[str, Any] | None:
        return self.users.get(user_id)

    def all_users(self) -> list[dict[str, Any]]:
        return [stored.doc for stored in self.users.scan()]

    def seats(self) -> int:
        return self.users.count()

    # --- persons, organizations, deals, leads ------------------------------------------------

    def add_org(self, name: str, owner_id: int | None) -> int:
        org_id = self.allocate("org")
        self.orgs.put(org_id, {"id": org_id, "name": name, "owner_id": owner_id})
        return org_id

    def add_person(
        self,
        name: str,
        *,
        phones: list[str],
        emails: list[str],
        org_id: int | None = None,
        owner_id: int | None = None,
    ) -> int:
        person_id = self.allocate("person")
        doc = person_doc(person_id, name, phones, emails, org_id, owner_id, self.now())
        self.persons.put(person_id, doc, owner=owner_id)
        self._persons_changed()
        return person_id

    def delete_person(self, person_id: int) -> bool:
        deleted = self.persons.delete(person_id)
        self._persons_changed()
        return deleted

    def _persons_changed(self) -> None:
        with self._lock:
            self.persons_version += 1

    def add_deal(
        self, title: str, *, person_id: int | None, org_id: int | None, user_id: int | None
    ) -> int:
        deal_id = self.allocate("deal")
        self.deals.put(deal_id, deal_doc(deal_id, title, person_id, org_id, user_id))
        return deal_id

    def add_lead(self, title: str, *, person_id: int | None, org_id: int | None) -> str:
        lead_id = lead_uuid(self.allocate("lead"))
        self.leads.put(lead_id, lead_doc(lead_id, title, person_id, org_id))
        return lead_id

    # --- call logs ----------------------------------------------------------------------------

    def call_log(self, log_id: str) -> dict[str, Any] | None:
        return self.call_logs.get(log_id)

    def is_deleted_call_log(self, log_id: str) -> bool:
        return self.call_log_tombstones.get(log_id) is not None

    def create_call_log(self, data: CallLogInput) -> dict[str, Any]:
        """Insert the log and its ``call`` activity (new, or the converted ``activity_id``)."""
        now = self.now()
        with self.state.transaction():
            serial = self.allocate("call_log")
            if data.activity_id is None:
                activity = build_call_activity(self.allocate("activity"), data, now)
            else:
                activity = self._convert_activity(data.activity_id, data, now)
            log = build_call_log(serial, data, activity["id"])
            activity["_call_log_id"] = log["id"]
            self.call_logs.put(log["id"], log, owner=data.user_id)
            self.activities.put(activity["id"], activity, owner=activity["owner_id"])
        return log

    def _convert_activity(
        self, activity_id: int, data: CallLogInput, now: datetime
    ) -> dict[str, Any]:
        activity = self.activities.get(activity_id)
        assert activity is not None  # checked by the validator before the transaction
        if data.subject:
            activity["subject"] = data.subject
        if data.note is not None:
            activity["note"] = data.note
        mark_done(activity, True, now)
        activity["update_time"] = rfc3339(now)
        return activity

    def delete_call_log(self, log: dict[str, Any]) -> None:
        """Delete the log and its recording; the activity stays (§2.3, §2.11i)."""
        with self.state.transaction():
            # Re-putting returns the stored seq (kept on replace); Collection.get has no seq.
            deleted_seq = self.call_logs.put(log["id"], log, owner=log["user_id"])
            self.call_logs.delete(log["id"])
            self.recordings.delete(log["id"])
            self.call_log_tombstones.put(log["id"], {"id": log["id"], "user_id": log["user_id"]})
            activity = self.activities.get(log["activity_id"])
            if activity is not None and activity.get("_call_log_id") == log["id"]:
                activity["_call_log_id"] = None
                self.activities.put(activity["id"], activity, owner=activity["owner_id"])
        self._shift_offsets(log["user_id"], deleted_seq)

    def _shift_offsets(self, owner: int, deleted_seq: int) -> None:
        """An offset list shifts when an earlier entry disappears: every remembered offset
        behind the deleted entry now points one position earlier (Pipedrive's v1 offset paging
        really skips an entry for a client that deletes while paging)."""
        with self._lock:
            shifted: dict[tuple[int, int], int] = {}
            for (hint_owner, start), seq in self._offsets.items():
                if hint_owner != owner or seq < deleted_seq:
                    shifted[(hint_owner, start)] = seq
                elif seq > deleted_seq:
                    shifted[(hint_owner, start - 1)] = seq
            self._offsets = shifted

    def attach_recording(
        self, log: dict[str, Any], content: bytes, filename: str, content_type: str
    ) -> None:
        with self.state.transaction():
            self.recordings.put(
                log["id"],
                {"content": content.hex(), "filename": filename, "content_type": content_type},
            )
            log["has_recording"] = True
            self.call_logs.put(log["id"], log, owner=log["user_id"])

    def recording(self, log_id: str) -> bytes | None:
        stored = self.recordings.get(log_id)
        return None if stored is None else bytes.fromhex(stored["content"])

    def call_log_page(
        self, owner: int, start: int, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Entries ``start .. start+limit`` of ``owner``'s logs in insertion order.

        ``start`` is a true offset (Pipedrive's v1 paging), but walking to it is O(1) for a
        client paging forward: the seq behind each ``next_start`` handed out is remembered.
        """
        after = self._seq_before(owner, start)
        if after is None:
            return [], False
        found, more = self.call_logs.page(limit, owner=owner, after=(None, after))
        if found and more:
            with self._lock:
                self._offsets[(owner, start + len(found))] = found[-1].seq
        return [stored.doc for stored in found], more

    def _seq_before(self, owner: int, start: int) -> int | None:
        if start == 0:
            return 0
        with self._lock:
            known = self._offsets.get((owner, start))
        if known is not None:
            return known
        seq = self.call_logs.seq_at(start - 1, owner=owner)
        if seq is not None:
            with self._lock:
                self._offsets[(owner, start)] = seq
        return seq

    # --- activities ---------------------------------------------------------------------------

    def activity(self, activity_id: int) -> dict[str, Any] | None:
        return self.activities.get(activity_id)

    def put_activity(self, activity: dict[str, Any]) -> None:
        self.activities.put(activity["id"], activity, owner=activity["owner_id"])

    def sync_call_log_from_activity(self, activity: dict[str, Any]) -> None:
        """A call log's subject and note are its activity's (§2.7: edit the call via PATCH).

        UNCONFIRMED whether Pipedrive reads them through; the emulator keeps them in step.
        """
        log_id = activity.get("_call_log_id")
        log = self.call_logs.get(log_id) if log_id else None
        if log is None:
            return
        log["subject"] = activity["subject"]
        log["note"] = activity["note"]
        self.call_logs.put(log["id"], log, owner=log["user_id"])

    def soft_delete_activity(self, activity: dict[str, Any]) -> None:
        """``is_deleted`` + a bumped ``update_time``; purged ``purge_after`` days later."""
        now = self.now()
        activity["is_deleted"] = True
        activity["update_time"] = rfc3339(now)
        with self.state.transaction():
            self.put_activity(activity)
            self.purge_queue.put(activity["id"], {"deleted_at": rfc3339(now)})

    def purge_expired(self, after_days: int) -> int:
        """Hard-delete activities soft-deleted more than ``after_days`` ago (an indexed range)."""
        cutoff = rfc3339(self.now() - timedelta(days=after_days))
        expired = [stored.id for stored in self.purge_queue.scan(order_by="deleted_at", lt=cutoff)]
        if expired:
            with self.state.transaction():
                for activity_id in expired:
                    self.activities.delete(activity_id)
                    self.purge_queue.delete(activity_id)
        return len(expired)
