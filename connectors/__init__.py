"""The connector registry: vendor kinds by name, imported lazily from dotted paths.

``syncer`` reaches vendor code only through this module, so a broken or missing vendor package
cannot break start-up, and the engine stays free of vendor knowledge. A third party registers
its own kind with :func:`register`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KindEntry:
    """Where one vendor kind's pieces live (``module:attribute`` strings)."""

    settings: str
    emulator: str | None = None
    connector: str | None = None


_REGISTRY: dict[str, KindEntry] = {
    kind: KindEntry(
        settings=f"connectors.{kind}.settings:{cls}Settings",
        emulator=f"connectors.{kind}.emulator:{cls}Emulator",
        connector=f"connectors.{kind}.connector:{cls}Connector",
    )
    for kind, cls in (
        ("amplemarket", "Amplemarket"),
        ("outreach", "Outreach"),
        ("close", "Close"),
        ("pipedrive", "Pipedrive"),
    )
}


class UnknownKindError(KeyError):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind

    def __str__(self) -> str:
        return f"unknown connector kind {self.kind!r}; known kinds: {', '.join(known_kinds())}"


def register(kind: str, entry: KindEntry) -> None:
    """Add (or replace) a connector kind."""
    _REGISTRY[kind] = entry


def known_kinds() -> list[str]:
    return sorted(_REGISTRY)


def entry(kind: str) -> KindEntry:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownKindError(kind) from None


def load(dotted: str) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    module_name, _, attribute = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def settings_model(kind: str) -> Any:
    return load(entry(kind).settings)


def emulator_class(kind: str) -> Any:
    dotted = entry(kind).emulator
    if dotted is None:
        raise LookupError(f"connector kind {kind!r} ships no emulator")
    return load(dotted)
