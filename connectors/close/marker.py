"""callsync's marker in calls it logs into Close: the note's last line ``callsync:<call uid>``.

Close offers no idempotency key and its call list cannot search notes, so the marker is found
by re-listing the calls logged at the call's exact ``activity_at`` (see ``writer.py``) and
reading it back from the note (or, when configured, from a call custom field). The read path
strips the trailer again, so a note written by callsync reads back exactly as it was sent.
"""

from __future__ import annotations

import re

PREFIX = "callsync:"
NIL_MARKER = "00000000-0000-0000-0000-000000000000"  # any call uid: to model a round trip
_TRAILER = re.compile(
    r"(?:\n\n|\n|^)callsync:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*$"
)


def with_marker(note: str | None, marker: str) -> str:
    """``note`` followed by a blank line and the marker line (just the marker without a note)."""
    return f"{note}\n\n{PREFIX}{marker}" if note else f"{PREFIX}{marker}"


def split_marker(note: str | None) -> tuple[str | None, str | None]:
    """(the note without callsync's trailer, the marker it carried); no trailer: (note, None)."""
    if not note:
        return note, None
    found = _TRAILER.search(note)
    if found is None:
        return note, None
    return note[: found.start()] or None, found.group(1)
