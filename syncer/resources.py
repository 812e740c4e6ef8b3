"""Where callsync's data files live, in a checkout and in an installed wheel.

``mappings/`` and ``migrations/`` sit at the top of the checkout (the project layout fixes that);
the wheel copies them under ``syncer/_bundled/`` (see ``force-include`` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"callsync data directory {name!r} is missing from the installation")


def mappings_dir() -> Path:
    return _find("mappings")


def migrations_dir() -> Path:
    return _find("migrations")
