"""Logging calls: ``create``, ``find_by_marker`` and ``update`` over ``POST`` / ``GET /calls``.

Amplemarket takes no idempotency key, no external id and no notes on ``POST /calls`` (§1.7),
and cannot change or delete a logged call (§1.8). So:

- **the marker** rides in ``transcription``, the only free text: callsync appends one line,
  ``[callsync:<call uid>]`` (setting ``marker_in_transcription``, default on; the read path
  strips it again). The risk: the line is visible in the call's transcript in Amplemarket and
  a rep can edit it away; it says nothing private (a random UUID).
- **finding a lost create** costs one ``GET /calls?to=<number>&user_id=&start_date_from=``
  (``from=`` for inbound calls: the person's side; one page in practice: one rep's calls with
  one number since the call started, minus a day
  for clock skew; the server's ``start_date`` is the time of logging, never before the call).
  A record carrying the marker is ours. Without one (marker off, or edited away), a call
  that matches every field callsync sent (``external``, ``from``, ``to``, ``duration``,
  ``answered``, ``human``) is adopted when it is the only one; several such look-alikes
  (two unanswered 0-second dials of the same number, say) are never guessed between: the
  look-up fails with :class:`UncertainMatch` for an admin to settle.
- **update** reads the logged call back (its UUIDv7 id embeds the logging second, so one
  ``GET /calls`` over a two-second window finds it) and raises ``CannotUpdate`` naming the
  first canonical field that differs; when only fields Amplemarket does not hold changed
  (note, start time, direction...) there is nothing to change and it returns.
- **no delete**: ``recreate_on_change`` cannot apply (a re-created call would sit beside the
  old one), so a changed call is reported stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import structlog

from connectors.amplemarket import payload
from connectors.amplemarket.client import CALLS_PATH, VENDOR, AmplemarketClient
from connectors.amplemarket.cursor import ONE_SECOND, iso
from connectors.amplemarket.identity import Directory
from connectors.amplemarket.payload import Fingerprint, UnwritableCall
from connectors.amplemarket.records import Disposition
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import CannotUpdate, JsonDict, Resolved, Written
from syncer.errors import UnsettledWriteError, VendorError
from syncer.mapping import VendorTable
from syncer.model import Call, Direction, Outcome

log = structlog.get_logger("callsync.amplemarket")

# How far before the call's own start a lost create is looked for (clock skew between the
# source and Amplemarket; the logged start_date is the time of the POST, after the call).
SEARCH_MARGIN = timedelta(days=1)
IMMUTABLE = "Amplemarket cannot change a logged call through its API (no PATCH, no DELETE)"


class UncertainMatch(UnsettledWriteError):
    """Several logged calls look like the lost create and none carries its marker."""

    def __init__(self, marker: str, ids: Sequence[str]) -> None:
        super().__init__(
            f"{len(ids)} logged calls match call {marker} and none carries its marker: "
            f"{', '.join(ids)}; link the right one by hand",
            {"amplemarket_candidates": list(ids)},
        )
        self.ids = tuple(ids)


class Writer:
    def __init__(
        self,
        client: AmplemarketClient,
        directory: Directory,
        table: VendorTable,
        settings: AmplemarketSettings,
        dispositions: Callable[[], Sequence[Disposition]],
    ) -> None:
        self.client = client
        self.directory = directory
        self.table = table
        self.settings = settings
        self.dispositions = dispositions

    # --- create --------------------------------------------------------------------------------

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        disposition = self.disposition_for(call.outcome)
        body = self.body(call, marker, resolved, disposition)
        try:
            created = self.client.post_call(body)
        except VendorError as error:
            if 400 <= error.status < 500 and "/task_id" in error.body:
                self._forget_task(resolved)  # completed or gone meanwhile: look again
            raise
        if disposition is not None and disposition.action == "complete":
            self._forget_task(resolved)  # the disposition completed the task
        return Written(str(created["id"]))

    def body(
        self,
        call: Call,
        marker: str | None,
        resolved: Resolved,
        disposition: Disposition | None,
    ) -> JsonDict:
        try:
            return payload.build(
                call,
                table=self.table,
                user_id=_link(resolved, "user_id"),
                task_id=_link(resolved, "task_id"),
                disposition_id=None if disposition is None else disposition.id,
                marker=marker if self.settings.marker_in_transcription else None,
            )
        except UnwritableCall as error:
            raise VendorError(VENDOR, 422, f"not sent: {error}") from error

    def disposition_for(self, outcome: Outcome) -> Disposition | None:
        name = self.settings.dispositions.get(outcome)
        if name is None:
            return None
        wanted = " ".join(name.split()).casefold()
        found = next(
            (
                d
                for d in self.dispositions()
                if " ".join((d.name or "").split()).casefold() == wanted
            ),
            None,
        )
        if found is None:
            log.warning("amplemarket.disposition_unknown", outcome=outcome.value, name=name)
            return None
        if found.action == "complete" and not self.settings.allow_completing_dispositions:
            log.warning("amplemarket.disposition_completes", outcome=outcome.value, name=name)
            return None
        return found

    def _forget_task(self, resolved: Resolved) -> None:
        keyword = resolved.links.get("contact_keyword")
        if isinstance(keyword, str):
            self.directory.forget_tasks(_link(resolved, "user_id"), keyword)

    # --- find_by_marker --------------------------------------------------------------------------

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        email = (call.user.email or "").strip() if call.user else ""
        user_id = self.directory.user_id(email) if email else None
        if user_id is None:
            return None  # no user: nothing can have been logged
        try:
            fingerprint = Fingerprint.of(call, self.table)
        except UnwritableCall:
            return None  # never sent
        # The person's side of the call (the rep's own number would list all their calls).
        inbound = call.direction is Direction.INBOUND
        number = ("from", fingerprint.from_number) if inbound else ("to", fingerprint.to_number)
        params = {
            number[0]: number[1],
            "user_id": user_id,
            "start_date_from": iso(call.started_at - SEARCH_MARGIN),
        }
        lookalikes: list[str] = []
        for page in self.client.listing(CALLS_PATH, "calls", params):
            for record in page:
                found = payload.split_marker(record.get("transcription"))[1]
                if found == marker.lower():
                    return str(record["id"])
                if found is None and fingerprint.matches(record):
                    lookalikes.append(str(record["id"]))
        if len(lookalikes) > 1:
            raise UncertainMatch(marker, lookalikes)
        if lookalikes:
            log.warning("amplemarket.adopted_without_marker", call=marker, remote=lookalikes[0])
        return lookalikes[0] if lookalikes else None

    # --- update --------------------------------------------------------------------------------

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        remote = self.fetch(remote_id)
        if remote is None:
            raise CannotUpdate("call", f"logged call {remote_id} is not in Amplemarket any more")
        wanted = self.body(call, None, resolved, self.disposition_for(call.outcome))
        changed = payload.first_difference(remote, wanted)
        if changed is None and remote.get("user_id") != wanted["user_id"]:
            changed = "user"
        contact = remote.get("contact")
        remote_contact = contact.get("id") if isinstance(contact, dict) else None
        if changed is None and remote_contact != resolved.links.get("contact_id"):
            changed = "contact"
        if changed is not None:
            raise CannotUpdate(changed, IMMUTABLE)

    def fetch(self, remote_id: str) -> JsonDict | None:
        """The logged call ``remote_id``, found by the logging second its UUIDv7 id embeds."""
        logged = _uuid7_second(remote_id)
        if logged is None:
            return None
        params = {
            "start_date_from": iso(logged - ONE_SECOND),  # both bounds exclusive (§1.4)
            "start_date_to": iso(logged + ONE_SECOND),
        }
        for page in self.client.listing(CALLS_PATH, "calls", params):
            for record in page:
                if record.get("id") == remote_id:
                    return record
        return None


def _link(resolved: Resolved, name: str) -> str:
    value = resolved.links.get(name)
    if not isinstance(value, str) or not value:
        raise VendorError(VENDOR, 422, f"not sent: the resolution has no {name}")
    return value


def _uuid7_second(remote_id: str) -> datetime | None:
    try:
        parsed = uuid.UUID(remote_id)
    except ValueError:
        return None
    if parsed.version != 7:
        return None
    millis = parsed.int >> 80
    return datetime.fromtimestamp(millis // 1000, tz=UTC)
