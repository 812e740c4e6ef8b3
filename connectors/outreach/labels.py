"""The org's call dispositions and purposes: their names, so calls carry real labels.

Calls only hold relationship ids (``callDisposition``, ``callPurpose``; doc §2.5); the names
live in ``GET /api/v2/callDispositions`` and ``/callPurposes`` (doc §2.6). An org has a
handful, so each connector instance reads both lists once, and only when a page names one;
a call naming an id created since is worth one more read of the lists per instance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from connectors.base import JsonDict
from syncer.model import VendorLabel

Fetch = Callable[[str], Iterator[JsonDict]]  # collection path -> its records
KINDS = {"callDisposition": "callDispositions", "callPurpose": "callPurposes"}


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

    def _unknown(self, wanted: dict[str, set[str]]) -> bool:
        names = self._names or {}
        return any(ident not in names.get(kind, {}) for kind in KINDS for ident in wanted[kind])

    def _load(self) -> dict[str, dict[str, str | None]]:
        return {kind: self._read(path) for kind, path in KINDS.items()}

    def _read(self, path: str) -> dict[str, str | None]:
        names: dict[str, str | None] = {}
        for record in self._fetch(path):
            attributes = record.get("attributes") or {}
            name = attributes.get("name")
            names[str(record["id"])] = name if isinstance(name, str) and name else None
        return names
