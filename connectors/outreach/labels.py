"""The org's call dispositions and purposes: their names, so calls carry real labels.

Calls only hold relationship ids (``callDisposition``, ``callPurpose``; doc §2.5); the names
live in ``GET /api/v2/callDispositions`` and ``/callPurposes`` (doc §2.6). An org has a
handful, so each connector instance reads both lists once, and only when a page names one;
a call naming an id created since is worth one more read of the lists per instance.

The write path uses the same lists the other way round: the configured names of a disposition
and a purpose become their ids (``find``, case and spacing ignored), and ``entries`` lists the
org's labels for ``callsync mappings show``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from connectors.base import JsonDict
from syncer.model import VendorLabel

Fetch = Callable[[str], Iterator[JsonDict]]  # collection path -> its records
KINDS = {"callDisposition": "callDispositions", "callPurpose": "callPurposes"}


@dataclass(frozen=True)
class LabelEntry:
    """One disposition or purpose of the org."""

    id: str
    name: str | None
    outcome: str | None  # a disposition's own "Answered" / "Not Answered"; None for purposes


def label_key(name: str) -> str:
    """Names are typed by hand into the config: case and spacing must not decide a match."""
    return " ".join(name.split()).casefold()


def related_id(relationships: Any, name: str) -> str | None:
    """The id of to-one relationship ``name`` (``{"data": {"type", "id"}}``), if set."""
    if not isinstance(relationships, dict):
        return None
    link = relationships.get(name)
    data = link.get("data") if isinstance(link, dict) else None
    if not isinstance(data, dict) or data.get("id") is None:
        return None
    return str(data["id"])


class LabelCatalog:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._names: dict[str, dict[str, str | None]] | None = None
        self._entries: dict[str, list[LabelEntry]] = {}
        self._reloaded = False

    def prepare(self, records: Iterable[Any]) -> None:
        """Make sure every disposition and purpose ``records`` name can be labelled."""
        wanted = {kind: set[str]() for kind in KINDS}
        for record in records:
            relationships = record.get("relationships") if isinstance(record, dict) else None
            for kind in KINDS:
                if (ident := related_id(relationships, kind)) is not None:
                    wanted[kind].add(ident)
        if not any(wanted.values()):
            return
        if self._names is None:
            self._names = self._load()
        elif not self._reloaded and self._unknown(wanted):
            self._reloaded = True
            self._names = self._load()

    def label(self, kind: str, ident: str | None) -> VendorLabel | None:
        """The id with its name; a name Outreach no longer lists is None, not a failure."""
        if ident is None:
            return None
        if self._names is None:
            raise RuntimeError("LabelCatalog.prepare must run before label")
        return VendorLabel(id=ident, label=self._names[kind].get(ident))

    def entries(self, kind: str) -> list[LabelEntry]:
        """The org's labels of ``kind`` ("callDisposition" or "callPurpose")."""
        if self._names is None:
            self._names = self._load()
        return list(self._entries[kind])

    def find(self, kind: str, name: str) -> str | None:
        """The id of the label of ``kind`` called ``name``; the lists are read again once per
        instance when the name is unknown (an admin may have added it since)."""
        fresh = self._names is None
        if (found := self._match(kind, name)) is not None or fresh or self._reloaded:
            return found
        self._reloaded = True
        self._names = self._load()
        return self._match(kind, name)

    def _match(self, kind: str, name: str) -> str | None:
        wanted = label_key(name)
        return next(
            (entry.id for entry in self.entries(kind) if label_key(entry.name or "") == wanted),
            None,
        )

    def _unknown(self, wanted: dict[str, set[str]]) -> bool:
        names = self._names or {}
        return any(ident not in names.get(kind, {}) for kind in KINDS for ident in wanted[kind])

    def _load(self) -> dict[str, dict[str, str | None]]:
        self._entries = {kind: self._read(path) for kind, path in KINDS.items()}
        return {kind: {e.id: e.name for e in entries} for kind, entries in self._entries.items()}

    def _read(self, path: str) -> list[LabelEntry]:
        entries: list[LabelEntry] = []
        for record in self._fetch(path):
            attributes = record.get("attributes") or {}
            name, outcome = attributes.get("name"), attributes.get("outcome")
            entries.append(
                LabelEntry(
                    str(record["id"]),
                    name if isinstance(name, str) and name else None,
                    outcome if isinstance(outcome, str) and outcome else None,
                )
            )
        return entries
