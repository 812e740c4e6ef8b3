"""JSON text, fast: orjson where it gives exactly what callsync stored and hashed before.

Digests (a call's content hash, which the ledger compares with what it wrote; a raw payload's
hash) are taken over ``json.dumps(sort_keys=True, separators=(",", ":"))`` text, so they must
not change when the serialiser does. orjson with sorted keys writes the same bytes whenever its
output is plain ASCII without DEL (``json`` escapes non-ASCII and DEL as ``\\uXXXX``) and
holds no number ``json`` prints otherwise (below 1e-4 ``json`` writes ``1e-05`` where orjson
writes ``0.00001``, and ``1e-09`` where it writes ``1e-9``: :data:`_MAYBE_APART` finds both, and
its false alarms, inside strings, only cost the fallback). Anything else, and anything orjson
refuses (integers beyond 64 bits, non-string keys), goes through ``json`` as before; the
equivalence is tested on random values in ``tests/unit/test_jsontext.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS
# Where orjson may print a number unlike ``json`` (or a string merely looks so).
_MAYBE_APART = re.compile(rb"[:,\[-]0\.0000|\de-")


def stable(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), default=default)``."""
    try:
        blob = orjson.dumps(value, default=default, option=_SORTED)
    except (orjson.JSONEncodeError, TypeError):
        blob = b""
    if blob and blob.isascii() and b"\x7f" not in blob and not _maybe_apart(blob):
        return blob.decode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=default)


def _maybe_apart(blob: bytes) -> bool:
    # Substring tests first: they are C-fast and almost always false, the pattern is not.
    return (b"0.0000" in blob or b"e-" in blob) and _MAYBE_APART.search(blob) is not None


def compact(value: Any) -> str:
    """JSON text to store (read back with any JSON parser; not for digests)."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"))
