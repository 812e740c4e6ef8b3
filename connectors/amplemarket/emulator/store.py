"""Everything the Amplemarket emulator remembers, in the framework's ``StateDB``.

All state that must outlive a restart lives here: calls, tasks, users, contacts, dispositions,
completed sequence leads, API keys and the id counter. Documents are stored in the vendor's own
shape plus private fields (names starting with ``_``) that carry the composite index keys and
seeding facts; ``public`` strips them before anything goes on the wire.

Index keys (``Collection`` k1..k3), chosen so that every list request is an index seek:
- calls: ``id`` (UUIDv7, so newest-first == id descending), ``_by_user`` = user id + id and
  ``_by_to`` = callee number + id, so ``user_id=`` and ``to=`` filters page without a scan;
  ``from=`` uses the secondary index collection ``calls_by_from`` (caller number + id);
- tasks: ``_by_user`` = user id + id (``GET /tasks`` always has ``user_id``) and
  ``_by_status`` = user id + status + id (so ``status=completed`` never walks a whole list);
- users: ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from connectors.amplemarket.emulator.ids import stable_bits, uuid7
from connectors.emulation import Collection, StateDB
from connectors.emulation.state import Stored

SEP = "\x1f"  # sorts below every printable character, so "a<SEP>…" never interleaves with "ab…"
TOP = "\x7f"  # sorts above every character of an id
# Fields the emulator keeps beside the vendor's own (index keys and seeding facts).
PRIVATE_FIELDS = ("_by_user", "_by_to", "_by_status", "_recording_bytes", "_phone")


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as the API shows it: private fields removed in place (key order kept).

    In place, because every caller holds a fresh copy decoded from the store, and copying
    each record of a page would be a third of the cost of serving it.
    """
    for key in PRIVATE_FIELDS:
        doc.pop(key, None)
    return doc


def composite(prefix: str, id_: str) -> str:
    return f"{prefix}{SEP}{id_}"


def task_status_prefix(user_id: str, status: str) -> str:
    return composite(user_id, status)


Doc = dict[str, Any]


@dataclass(frozen=True)
class Page:
    docs: list[Doc]
    has_next: bool
    has_prev: bool


@dataclass(frozen=True)
class Listing:
    """A keyset listing over one indexed key, in a fixed list order.

    ``prefix`` selects one family of composite keys (e.g. one user's tasks; None for a plain
    id key); ``low`` (inclusive) and ``high`` (exclusive) bound the id part. ``page[after]`` /
    ``page[before]`` are exclusive positions in list order (vendor doc §1.5). When the
    collection is a secondary index (rows whose id is a record id), ``resolve`` loads the
    record itself; ``where`` then filters records, never index rows.
    """

    collection: Collection
    key: str
    prefix: str | None = None
    low: str = ""
    high: str = TOP
    descending: bool = False
    where: Callable[[Doc], bool] | None = None
    resolve: Callable[[str], Doc | None] | None = None

    def page(self, size: int, after: str | None, before: str | None) -> Page:
        if before is None:
            found, more = self._take(size, forward=True, beyond=after)
            newer = after is not None and bool(found) and self._exists(False, found[0][0])
            return Page([doc for _, doc in found], has_next=more, has_prev=newer)
        found, more = self._take(size, forward=False, beyond=before)
        found.reverse()
        older = bool(found) and self._exists(True, found[-1][0])
        return Page([doc for _, doc in found], has_next=older, has_prev=more)

    def _exists(self, forward: bool, beyond: str) -> bool:
        """Whether any item lies beyond ``beyond``.

        Without a row filter the first row answers, so two rows are read; with one, rows are
        read in bigger chunks so a sparse match does not cost one query per row.
        """
        chunk = 2 if self.where is None else 100
        return next(self._records(forward, beyond, chunk=chunk), None) is not None

    def _take(
        self, limit: int, *, forward: bool, beyond: str | None
    ) -> tuple[list[tuple[str, Doc]], bool]:
        found: list[tuple[str, Doc]] = []
        for item in self._records(forward, beyond, chunk=limit + 1):
            if len(found) == limit:
                return found, True
            found.append(item)
        return found, False

    def _records(self, forward: bool, beyond: str | None, chunk: int) -> Iterator[tuple[str, Doc]]:
        """``(id, record)`` pairs in scan order, past ``beyond``, that pass ``where``."""
        for item in self._rows(forward, beyond, chunk):
            doc = item.doc if self.resolve is None else self.resolve(item.id)
            if doc is not None and (self.where is None or self.where(doc)):
                yield item.id, doc

    def _rows(self, forward: bool, beyond: str | None, chunk: int) -> Iterator[Stored]:
        sql_descending = self.descending == forward
        low, high = self._key(self.low), self._key(self.high)
        bounds: dict[str, Any] = {"gte": low, "lt": high}
        if beyond is not None:
            # One bound per side: given two lower bounds SQLite may seek on the looser one and
            # walk the whole range between them.
            edge = self._key(beyond)
            if sql_descending:
                bounds["lt"] = min(high, edge)
            elif edge >= low:
                bounds = {"gt": edge, "lt": high}
        return self.collection.scan(
            order_by=self.key, descending=sql_descending, chunk=chunk, **bounds
        )

    def _key(self, suffix: str) -> str:
        return suffix if self.prefix is None else composite(self.prefix, suffix)


class AmplemarketStore:
    """Typed access to the emulator's collections and meta values."""

    def __init__(self, state: StateDB) -> None:
        self.state = state
        self.calls = state.collection("amplemarket.calls", keys=("id", "_by_user", "_by_to"))
        # A secondary index (one row per call, row id = call id): a collection has only three
        # sortable keys, and a ``from`` filter on a rarely used number must not walk history.
        self.calls_by_from = state.collection("amplemarket.calls_by_from", keys=("key",))
        self.tasks = state.collection("amplemarket.tasks", keys=("_by_user", "_by_status"))
        self.users = state.collection("amplemarket.users", keys=("id",))
        self.contacts = state.collection("amplemarket.contacts")
        self.dispositions = state.collection("amplemarket.dispositions")
        self.completed_leads = state.collection("amplemarket.completed_leads")

    # --- meta ----------------------------------------------------------------------------

    def api_keys(self) -> set[str]:
        return set(json.loads(self.state.get_meta("amplemarket.api_keys", "[]") or "[]"))

    def set_api_keys(self, keys: set[str]) -> None:
        self.state.set_meta("amplemarket.api_keys", json.dumps(sorted(keys)))

    def account(self) -> dict[str, Any] | None:
        raw = self.state.get_meta("amplemarket.account")
        return None if raw is None else dict(json.loads(raw))

    def set_account(self, account: dict[str, Any]) -> None:
        self.state.set_meta("amplemarket.account", json.dumps(account))

    def new_id(self, ms: int) -> str:
        """A fresh UUIDv7 created at ``ms``; the counter is persisted so ids never repeat."""
        with self.state.lock:
            counter = int(self.state.get_meta("amplemarket.id_counter", "0") or "0") + 1
            self.state.set_meta("amplemarket.id_counter", str(counter))
        return uuid7(ms, stable_bits("runtime", counter))

    # --- writes that keep the private index keys in step ----------------------------------

    def put_call(self, doc: dict[str, Any]) -> None:
        doc["_by_user"] = composite(doc["user_id"], doc["id"])
        doc["_by_to"] = composite(doc["to"], doc["id"])
        self.calls.put(doc["id"], doc)
        self.calls_by_from.put(doc["id"], {"key": composite(doc["from"], doc["id"])})

    def delete_call(self, call_id: str) -> bool:
        self.calls_by_from.delete(call_id)
        return self.calls.delete(call_id)

    def put_task(self, doc: dict[str, Any]) -> None:
        doc["_by_user"] = composite(doc["user_id"], doc["id"])
        doc["_by_status"] = composite(task_status_prefix(doc["user_id"], doc["status"]), doc["id"])
        self.tasks.put(doc["id"], doc)

    def complete_lead(self, sequence_key: str, contact_id: str, when: str) -> None:
        lead_id = composite(sequence_key, contact_id)
        self.completed_leads.put(
            lead_id, {"sequence_key": sequence_key, "contact_id": contact_id, "completed_at": when}
        )
