"""What the push engine asks of the review queue: the person a reviewer chose for a parked
call (``review resolve w:... --choose <candidate>``, ``syncer/review_resolve.py``)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from syncer.model import Call, Party
from syncer.store import repo

CHOICE_KEY = "review:choice:{}"  # connector state of the target: the person chosen for a call


def with_choice(conn: Connection, target: str, kind: str, call: Call) -> Call:
    """``call`` naming the person a reviewer chose for it in ``target`` (unchanged if none):
    connectors that take a choice read it from ``contact.ids[kind]``."""
    key = CHOICE_KEY.format(call.call_uid)
    stored = repo.get_state(conn, target, [key]).get(key)
    if not stored:
        return call
    contact = call.contact or Party()
    ids = {**contact.ids, kind: str(stored["person"])}
    return call.model_copy(update={"contact": contact.model_copy(update={"ids": ids})})
