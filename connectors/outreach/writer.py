"""Logging calls in Outreach: create once, find by marker, compare instead of update, delete.

Facts (shared/vendor-apis/amplemarket-outreach.md §2.4, §2.5, §2.6, §2.9, §2.13):

- ``POST /calls`` answers 201 with the call; it is not idempotent and has no idempotency key,
  so it is sent exactly once (:meth:`OutreachClient.create` never resends it; a lost or 5xx
  answer is an ``AmbiguousWriteError`` for the engine to settle with ``find_by_marker``).
- There is no ``PATCH /calls/{id}``: :meth:`CallWriter.update` reads the call and raises
  :class:`CannotUpdate` naming the first canonical field that differs (nothing differs: a
  no-op). ``DELETE /calls/{id}`` answers 204; deleting a call already gone is not an error.
- The marker is ``vendorCallId`` (+ ``externalVendor`` "callsync"). ``vendorCallId`` is not
  filterable (only ``from``, ``to``, ``outcome``, ``recordingUrl``, ``state``,
  ``userCallType``, timestamps and relationship ids are), so ``find_by_marker`` reads a bounded
  list and looks at each record's ``vendorCallId`` (sparse fieldset: nothing else comes back):

  1. the calls of the resolved prospect *and* user (``filter[prospect][id]`` +
     ``filter[user][id]``, newest first): the handful of calls one rep logged with one person;
  2. when that finds nothing (or the prospect cannot be resolved now): the user's calls (or,
     without a user, the org's) created since the call's start minus ``marker_search_margin``
     (``filter[createdAt][gte]``; a call is logged after it starts).

  Cost: one request when the call was created (identities come from the look-up cache), two
  when it was not; each list is read to its end, ``page[size]=1000``.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import CannotUpdate, JsonDict, Resolved, Written
from connectors.outreach.client import OutreachClient, format_time
from connectors.outreach.identity import IdentityResolver, Person
from connectors.outreach.payload import CANONICAL_FIELD, call_document, differences
from connectors.outreach.settings import MAX_PAGE_SIZE, OutreachSettings
from syncer.mapping import VendorTable
from syncer.model import Call

CALLS = "calls"


class CallWriter:
    def __init__(
        self,
        client: OutreachClient,
        identities: IdentityResolver,
        table: VendorTable,
        settings: OutreachSettings,
    ) -> None:
        self._client = client
        self._identities = identities
        self._table = table
        self._settings = settings

    def document(self, call: Call, marker: str, resolved: Resolved) -> JsonDict:
        return call_document(call, marker, resolved.links, self._table, self._settings)

    def create(self, call: Call, marker: str, resolved: Resolved) -> Written:
        created = self._client.create(CALLS, self.document(call, marker, resolved))
        return Written(str(created["id"]))

    def update(self, remote_id: str, call: Call, resolved: Resolved) -> None:
        """Outreach cannot change a call: succeed when it already says what ``call`` says,
        else name the first canonical field that differs."""
        record = self._client.get_json(f"/api/v2/{CALLS}/{int(remote_id)}")["data"]
        document = self.document(call, call.call_uid, resolved)
        for name in differences(document, record):
            raise CannotUpdate(
                CANONICAL_FIELD[name],
                f"Outreach calls cannot be changed through the API (no PATCH); {name} differs",
            )

    def delete(self, remote_id: str) -> None:
        self._client.delete(f"{CALLS}/{int(remote_id)}")

    # --- the marker -------------------------------------------------------------------------

    def find_by_marker(self, marker: str, call: Call) -> str | None:
        user, person = self._people(call)
        if user is not None and person is not None:
            found = self._search(marker, self._by_pair(person.prospect, user))
            if found is not None:
                return found
        return self._search(marker, self._since_start(call, user))

    def _people(self, call: Call) -> tuple[str | None, Person | None]:
        email = (call.user.email or "").strip().lower() if call.user else ""
        user = self._identities.user(email) if email else None
        person = self._identities.person(call)
        return user, person if isinstance(person, Person) else None

    @staticmethod
    def _by_pair(prospect: str, user: str) -> list[tuple[str, str]]:
        return [("filter[prospect][id]", prospect), ("filter[user][id]", user)]

    def _since_start(self, call: Call, user: str | None) -> list[tuple[str, str]]:
        since = call.started_at - self._settings.marker_search_margin
        params = [("filter[createdAt][gte]", format_time(since)), ("newFilterSyntax", "true")]
        return params + ([("filter[user][id]", user)] if user is not None else [])

    def _search(self, marker: str, filters: list[tuple[str, str]]) -> str | None:
        """The oldest call among ``filters``' matches whose ``vendorCallId`` is ``marker``."""
        found = [
            str(record["id"])
            for record in self._walk(filters)
            if (record.get("attributes") or {}).get("vendorCallId") == marker
        ]
        return min(found, key=int) if found else None

    def _walk(self, filters: list[tuple[str, str]]) -> Iterator[JsonDict]:
        params = [
            *filters,
            ("fields[call]", "vendorCallId"),
            ("sort", "-createdAt"),
            ("count", "false"),
            ("page[size]", str(MAX_PAGE_SIZE)),
        ]
        return self._client.iter_all(CALLS, params)
