"""Accepted target edits of canonical calls (``call_overrides``): one row per (call, field).

The rules (what is accepted, when a source change wins one back) are ``syncer/conflicts.py``'s;
this module only stores them. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer.conflicts import Override
from syncer.store.tables import CallOverrideRow
from syncer.store.upsert import upsert

overrides_t = cast(sa.Table, CallOverrideRow.__table__)


# Built once: every page a pull stores asks it (its ids an expanding parameter).
_OF_CALLS = (
    sa.select(overrides_t)
    .where(overrides_t.c.call_uid.in_(sa.bindparam("ids", expanding=True)))
    .order_by(overrides_t.c.call_uid, overrides_t.c.field)
)


def of_calls(conn: Connection, call_uids: Sequence[str]) -> dict[str, list[Override]]:
    """call_uid -> its overrides (field order), for the calls of ``call_uids`` that have any."""
    if not call_uids:
        return {}
    found: dict[str, list[Override]] = {}
    for row in conn.execute(_OF_CALLS, {"ids": list(call_uids)}):
        found.setdefault(row.call_uid, []).append(_override(row))
    return found


def _override(row: Any) -> Override:
    return Override(
        field=row.field,
        value=(row.value or {}).get("value"),
        at=row.edited_at,
        target=row.target_connection,
        basis=row.basis,
        yields=bool(row.yields),
    )


def save(conn: Connection, call_uid: str, overrides: Sequence[Override]) -> None:
    """Store ``overrides`` of the call (each replaces the one of its field)."""
    stamp = datetime.now(UTC)
    rows = [
        {
            "call_uid": call_uid,
            "field": override.field,
            "value": {"value": override.value},
            "edited_at": override.at,
            "target_connection": override.target,
            "basis": override.basis,
            "yields": override.yields,
            "updated_at": stamp,
        }
        for override in overrides
    ]
    upsert(conn, overrides_t, rows, key=["call_uid", "field"])


def replace(conn: Connection, call_uid: str, kept: Sequence[Override]) -> None:
    """The call's overrides become exactly ``kept`` (the others were won back by the source)."""
    stmt = overrides_t.delete().where(overrides_t.c.call_uid == call_uid)
    if kept:
        stmt = stmt.where(overrides_t.c.field.not_in([override.field for override in kept]))
    conn.execute(stmt)
    save(conn, call_uid, kept)
