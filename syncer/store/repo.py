"""The repository: every read and write of callsync's own database goes through here.

Functions take an open ``Connection`` so callers compose them into one transaction, e.g. a page's
calls, source records, quarantined records and the advanced cursor commit together. The engine
never builds SQL itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syncer import jsontext
from syncer.model import Call, canonical_json, content_hash_of
from syncer.store import bulk
from syncer.store.tables import (
    CallRow,
    ConnectorStateRow,
    CursorRow,
    OAuthTokenRow,
    QuarantineRow,
    SourceRecordRow,
)
from syncer.store.upsert import insert_for, upsert

calls_t = cast(sa.Table, CallRow.__table__)
sources_t = cast(sa.Table, SourceRecordRow.__table__)
cursors_t = cast(sa.Table, CursorRow.__table__)
quarantine_t = cast(sa.Table, QuarantineRow.__table__)
tokens_t = cast(sa.Table, OAuthTokenRow.__table__)
state_t = cast(sa.Table, ConnectorStateRow.__table__)


def _now() -> datetime:
    return datetime.now(UTC)


def raw_hash(raw: Any) -> str:
    """A stable digest of a vendor payload (key order does not matter)."""
    return hashlib.sha256(jsontext.stable(raw, default=str).encode()).hexdigest()


# --- calls and source records ------------------------------------------------------------------


def _as_is(value: Any) -> Any:
    return value


def _call_row(
    call: Call,
    now: Any,
    time: Callable[[datetime | None], Any] = _as_is,
    as_json: Callable[[Any], Any] = _as_is,
) -> dict[str, Any]:
    """The stored row of ``call``: as SQLAlchemy binds it by default, or (``time``,
    ``as_json``: :mod:`syncer.store.bulk`'s converters) as the driver takes it."""
    data = canonical_json(call)
    return {
        "call_uid": call.call_uid,
        "origin_system": call.source.system,
        "origin_connection": call.source.connection,
        "origin_external_id": call.source.external_id,
        "started_at": time(call.started_at),
        "outcome": call.outcome.value,
        "from_e164": call.from_number.e164 if call.from_number else None,
        "to_e164": call.to_number.e164 if call.to_number else None,
        "duration_seconds": call.duration_seconds,
        "content_hash": content_hash_of(data),
        "source_updated_at": time(call.source.source_updated_at),
        "deleted_at": time(call.deleted_at),
        "data": as_json(data),
        "created_at": now,
        "updated_at": now,
    }


_CALL_COLUMNS = (
    "call_uid",
    "origin_system",
    "origin_connection",
    "origin_external_id",
    "started_at",
    "outcome",
    "from_e164",
    "to_e164",
    "duration_seconds",
    "content_hash",
    "source_updated_at",
    "deleted_at",
    "data",
    "created_at",
    "updated_at",
)


def _calls_upsert(conn: Connection) -> Any:
    stmt = insert_for(conn, calls_t)
    mine, theirs = calls_t.c.source_updated_at, stmt.excluded.source_updated_at
    update = [c for c in _CALL_COLUMNS if c not in ("call_uid", "created_at")]
    return stmt.on_conflict_do_update(
        index_elements=["call_uid"],
        set_={c: stmt.excluded[c] for c in update},
        where=sa.or_(mine.is_(None), theirs.is_(None), theirs >= mine),
    )


def upsert_calls(conn: Connection, calls: Sequence[Call], now: datetime | None = None) -> int:
    """Insert or update canonical calls by ``call_uid``.

    A row is only overwritten by a version at least as new (by source update time), so a replayed
    or out-of-order page can never roll a call back.
    """
    time = bulk.time_converter(conn)
    stamp = time(now or _now())
    rows = [_call_row(call, stamp, time, bulk.db_json) for call in calls]
    statement = bulk.compiled(conn, "upsert_calls", _CALL_COLUMNS, lambda: _calls_upsert(conn))
    return bulk.execute_many(conn, statement, rows)


_SOURCE_COLUMNS = (
    "connection",
    "external_id",
    "system",
    "call_uid",
    "raw",
    "content_hash",
    "source_updated_at",
    "deleted_at",
    "first_seen_at",
    "last_seen_at",
    "incomplete",
)


def _sources_upsert(conn: Connection) -> Any:
    stmt = insert_for(conn, sources_t)
    key = ("connection", "external_id", "first_seen_at")
    return stmt.on_conflict_do_update(
        index_elements=["connection", "external_id"],
        set_={c: stmt.excluded[c] for c in _SOURCE_COLUMNS if c not in key},
    )


def lock_calls(conn: Connection, call_uids: Sequence[str]) -> None:
    """Lock the stored rows of ``call_uids`` until the transaction ends (on PostgreSQL, in
    ``call_uid`` order; SQLite's writers are serialised already)."""
    if not call_uids or conn.dialect.name == "sqlite":  # BEGIN IMMEDIATE locked the store
        return
    conn.execute(_LOCK_CALLS, {"ids": sorted(call_uids)}).all()


def locked_call(conn: Connection, call_uid: str) -> Call | None:
    """The stored call, its row locked until the transaction ends (None: not stored)."""
    stmt = sa.select(calls_t.c.data).where(calls_t.c.call_uid == call_uid).with_for_update()
    data = conn.execute(stmt).scalar()
    return None if data is None else Call.model_validate(data)


def rewrite_content(conn: Connection, call: Call) -> None:
    """Store what ``call`` now says (an accepted target edit), keeping its source bookkeeping."""
    row = _call_row(call, _now())
    keep = ("call_uid", "created_at", "source_updated_at", "deleted_at")
    values = {name: value for name, value in row.items() if name not in keep}
    conn.execute(calls_t.update().where(calls_t.c.call_uid == call.call_uid).values(**values))


def upsert_source_records(
    conn: Connection,
    calls: Sequence[Call],
    now: datetime | None = None,
    hashes: Mapping[str, str] | None = None,
    owners: Mapping[str, str] | None = None,
    incomplete: Mapping[str, str] | None = None,
) -> int:
    """Keep each call's raw vendor payload and its hash beside the canonical row.

    ``hashes`` (external id -> :func:`raw_hash`) saves hashing payloads a second time;
    ``owners`` (external id -> call_uid) files records callsync wrote under the call they copy;
    ``incomplete`` (external id -> reason) marks calls mapped without a label a failed look-up
    should have given (every other record stored here is complete).
    """
    time = bulk.time_converter(conn)
    stamp = time(now or _now())
    known = hashes or {}
    owner_of = owners or {}
    missing = incomplete or {}
    rows = [
        {
            "connection": call.source.connection,
            "external_id": call.source.external_id,
            "system": call.source.system,
            "call_uid": owner_of.get(call.source.external_id, call.call_uid),
            "raw": bulk.db_json(call.raw),
            "content_hash": known.get(call.source.external_id) or raw_hash(call.raw),
            "source_updated_at": time(call.source.source_updated_at),
            "deleted_at": time(call.deleted_at),
            "first_seen_at": stamp,
            "last_seen_at": stamp,
            "incomplete": missing.get(call.source.external_id),
        }
        for call in calls
    ]
    statement = bulk.compiled(
        conn, "upsert_source_records", _SOURCE_COLUMNS, lambda: _sources_upsert(conn)
    )
    return bulk.execute_many(conn, statement, rows)


# The statements a pull runs on every page are built once, their id lists bound as expanding
# parameters: building ``in_(ids)`` anew coerced every id and keyed the SQL cache by them,
# about half of each query's CPU.
_IDS: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_STORED_HASHES = sa.select(sources_t.c.external_id, sources_t.c.content_hash).where(
    sources_t.c.connection == sa.bindparam("of_connection"),
    sources_t.c.external_id.in_(_IDS),
    sources_t.c.incomplete.is_(None),
)
_LOCK_CALLS = (
    sa.select(calls_t.c.call_uid)
    .where(calls_t.c.call_uid.in_(_IDS))
    .order_by(calls_t.c.call_uid)
    .with_for_update()
)
_KNOWN_CALLS = sa.select(calls_t.c.call_uid).where(calls_t.c.call_uid.in_(_IDS))
_TOUCH = (
    sources_t.update()
    .where(sources_t.c.connection == sa.bindparam("of_connection"))
    .where(sources_t.c.external_id.in_(_IDS))
    .values(last_seen_at=sa.bindparam("stamp"))
)


def changed_calls(
    conn: Connection, connection: str, calls: Sequence[Call], hashes: Mapping[str, str]
) -> list[Call]:
    """The calls whose raw payload differs from what is stored (new ones included), and those
    stored incomplete (read again, they are mapped again); ``hashes`` maps each call's
    external id to :func:`raw_hash` of its payload."""
    if not calls:
        return []
    ids = [call.source.external_id for call in calls]
    found = conn.execute(_STORED_HASHES, {"of_connection": connection, "ids": ids})
    stored = {row.external_id: row.content_hash for row in found}
    return [c for c in calls if stored.get(c.source.external_id) != hashes[c.source.external_id]]


@dataclass(frozen=True)
class IncompleteRecord:
    external_id: str
    call_uid: str
    raw: dict[str, Any]
    content_hash: str
    deleted_at: datetime | None


def incomplete_records(conn: Connection, connection: str, limit: int) -> list[IncompleteRecord]:
    """Up to ``limit`` stored records of ``connection`` mapped without a label (oldest id
    first, so a long backlog is worked through page by page across runs)."""
    stmt = (
        sa.select(sources_t.c.external_id, sources_t.c.call_uid, sources_t.c.raw)
        .add_columns(sources_t.c.content_hash, sources_t.c.deleted_at)
        .where(sources_t.c.connection == connection, sources_t.c.incomplete.is_not(None))
        .order_by(sources_t.c.external_id)
        .limit(limit)
    )
    return [
        IncompleteRecord(
            row.external_id, row.call_uid, dict(row.raw), row.content_hash, row.deleted_at
        )
        for row in conn.execute(stmt)
    ]


def settle_incomplete(
    conn: Connection, connection: str, record: IncompleteRecord, reason: str | None
) -> bool:
    """Record ``reason`` (None: now complete) for a re-mapped record, unless a pull stored a
    newer payload meanwhile (that one carries its own mark). True when the row was updated."""
    stmt = (
        sources_t.update()
        .where(
            sources_t.c.connection == connection,
            sources_t.c.external_id == record.external_id,
            sources_t.c.content_hash == record.content_hash,
        )
        .values(incomplete=reason)
    )
    return conn.execute(stmt).rowcount > 0


def touch_source_records(
    conn: Connection,
    connection: str,
    external_ids: Sequence[str],
    now: datetime | None = None,
    *,
    alive: Sequence[str] = (),
) -> None:
    """Record that records were seen again (full sweeps infer deletions from it). Those in
    ``alive`` (seen again, their payload not saying deleted) were tombstoned in error and are
    alive after all; a payload that itself says deleted (a Pipedrive soft delete) stays dead."""
    if not external_ids:
        return
    stamp = now or _now()
    conn.execute(_TOUCH, {"of_connection": connection, "ids": list(external_ids), "stamp": stamp})
    if not alive:
        return
    living = (sources_t.c.connection == connection) & sources_t.c.external_id.in_(list(alive))
    revived = (
        conn.execute(
            sa.select(sources_t.c.call_uid).where(living, sources_t.c.deleted_at.is_not(None))
        )
        .scalars()
        .all()
    )
    if not revived:
        return
    conn.execute(sources_t.update().where(living).values(deleted_at=None))
    conn.execute(
        calls_t.update()
        .where(calls_t.c.call_uid.in_(list(revived)), calls_t.c.origin_connection == connection)
        .values(deleted_at=None, updated_at=stamp)
    )


def mark_deleted(
    conn: Connection, connection: str, external_ids: Sequence[str], now: datetime | None = None
) -> int:
    """Tombstone records the vendor reports deleted; the rows and payloads are kept."""
    if not external_ids:
        return 0
    return _tombstone(conn, connection, sources_t.c.external_id.in_(list(external_ids)), now)


def mark_unseen_deleted(conn: Connection, connection: str, since: datetime) -> int:
    """After a full sweep: records of ``connection`` not seen since ``since`` are gone."""
    return _tombstone(conn, connection, sources_t.c.last_seen_at < since, None)


def _tombstone(conn: Connection, connection: str, condition: Any, now: datetime | None) -> int:
    stamp = now or _now()
    live = (
        sa.select(sources_t.c.external_id, sources_t.c.call_uid)
        .where(sources_t.c.connection == connection, sources_t.c.deleted_at.is_(None))
        .where(condition)
    )
    found = list(conn.execute(live))
    if not found:
        return 0
    ids = [row.external_id for row in found]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(
            sources_t.update()
            .where(sources_t.c.connection == connection, sources_t.c.external_id.in_(chunk))
            .values(deleted_at=stamp)
        )
    uids = [row.call_uid for row in found]
    for start in range(0, len(uids), 500):
        conn.execute(
            calls_t.update()
            .where(calls_t.c.call_uid.in_(uids[start : start + 500]))
            .where(calls_t.c.origin_connection == connection)
            .values(deleted_at=stamp, updated_at=stamp)
        )
    return len(found)


def load_call(conn: Connection, call_uid: str) -> Call | None:
    stmt = sa.select(calls_t.c.data, calls_t.c.deleted_at).where(calls_t.c.call_uid == call_uid)
    row = conn.execute(stmt).first()
    if row is None:
        return None
    return Call.model_validate({**row.data, "deleted_at": row.deleted_at})


def source_payload(conn: Connection, connection: str, external_id: str) -> dict[str, Any] | None:
    """The raw vendor payload stored for one record, if any."""
    stmt = sa.select(sources_t.c.raw).where(
        sources_t.c.connection == connection, sources_t.c.external_id == external_id
    )
    raw = conn.execute(stmt).scalar_one_or_none()
    return dict(raw) if isinstance(raw, dict) else None


def known_calls(conn: Connection, call_uids: Sequence[str]) -> set[str]:
    """Which of ``call_uids`` are canonical calls in the store."""
    if not call_uids:
        return set()
    return set(conn.execute(_KNOWN_CALLS, {"ids": list(call_uids)}).scalars())


def count_calls(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(calls_t)).scalar_one())


# --- cursors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CursorState:
    """``completed`` is the last position a whole pull reached; ``partial`` is where an
    interrupted pull may resume. A new pull starts from ``partial`` when present."""

    completed: dict[str, Any] | None = None
    partial: dict[str, Any] | None = None
    updated_at: datetime | None = None


_KEEP: Any = object()


def get_cursor(conn: Connection, connection: str, stream: str) -> CursorState:
    row = conn.execute(
        sa.select(cursors_t).where(
            cursors_t.c.connection == connection, cursors_t.c.stream == stream
        )
    ).first()
    if row is None:
        return CursorState()
    return CursorState(row.completed, row.partial, row.updated_at)


def save_cursor(
    conn: Connection,
    connection: str,
    stream: str,
    *,
    completed: dict[str, Any] | None = _KEEP,
    partial: dict[str, Any] | None = _KEEP,
) -> None:
    """Write either part of a cursor; a part not given keeps its stored value (None when the
    cursor is new). One statement, compiled once per set of parts: a pull saves its cursor
    with every page."""
    given = {"completed": completed, "partial": partial}
    parts = tuple(name for name, value in given.items() if value is not _KEEP)
    time = bulk.time_converter(conn)
    row = {"connection": connection, "stream": stream, "updated_at": time(_now())}
    row.update({name: None if name not in parts else given[name] for name in given})
    row.update({name: bulk.db_json(row[name]) for name in given})
    statement = bulk.compiled(
        conn, f"save_cursor:{','.join(parts)}", _CURSOR_COLUMNS, lambda: _cursor_upsert(conn, parts)
    )
    bulk.execute_many(conn, statement, [row])


_CURSOR_COLUMNS = ("connection", "stream", "completed", "partial", "updated_at")


def _cursor_upsert(conn: Connection, parts: Sequence[str]) -> Any:
    stmt = insert_for(conn, cursors_t)
    return stmt.on_conflict_do_update(
        index_elements=["connection", "stream"],
        set_={name: stmt.excluded[name] for name in (*parts, "updated_at")},
    )


def list_cursors(conn: Connection) -> list[tuple[str, str, CursorState]]:
    rows = conn.execute(sa.select(cursors_t).order_by(cursors_t.c.connection, cursors_t.c.stream))
    return [
        (r.connection, r.stream, CursorState(r.completed, r.partial, r.updated_at)) for r in rows
    ]


# --- quarantine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarantined:
    record_key: str
    raw: dict[str, Any]
    reason: str


def quarantine(
    conn: Connection,
    connection: str,
    stream: str,
    items: Iterable[Quarantined],
    fingerprint: str | None = None,
) -> int:
    """Park records that could not be processed; seeing one again counts another attempt.
    ``fingerprint``: the mapping inputs they failed with (``syncer.quarantine``)."""
    stamp = _now()
    rows = [
        {
            "connection": connection,
            "stream": stream,
            "record_key": item.record_key,
            "raw": item.raw,
            "reason": item.reason,
            "attempts": 1,
            "first_seen_at": stamp,
            "last_seen_at": stamp,
            "resolved_at": None,
            "mapping_fingerprint": fingerprint,
        }
        for item in items
    ]
    if not rows:
        return 0
    stmt = insert_for(conn, quarantine_t).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection", "record_key"],
        set_={
            "raw": stmt.excluded.raw,
            "reason": stmt.excluded.reason,
            "last_seen_at": stmt.excluded.last_seen_at,
            "resolved_at": None,
            "attempts": quarantine_t.c.attempts + 1,
            "mapping_fingerprint": stmt.excluded.mapping_fingerprint,
        },
    )
    return int(conn.execute(stmt).rowcount)


def resolve_quarantined(conn: Connection, connection: str, record_keys: Sequence[str]) -> int:
    """Mark records as resolved once they were processed successfully after all."""
    if not record_keys:
        return 0
    values = {"of_connection": connection, "keys": list(record_keys), "now": _now()}
    return int(conn.execute(_RESOLVE_QUARANTINED, values).rowcount)


_RESOLVE_QUARANTINED = (  # built once: it runs on every page (see _STORED_HASHES)
    quarantine_t.update()
    .where(quarantine_t.c.connection == sa.bindparam("of_connection"))
    .where(quarantine_t.c.record_key.in_(sa.bindparam("keys", expanding=True)))
    .where(quarantine_t.c.resolved_at.is_(None))
    .values(resolved_at=sa.bindparam("now"))
)


def open_quarantine(conn: Connection, connection: str | None = None) -> list[Any]:
    stmt = sa.select(quarantine_t).where(quarantine_t.c.resolved_at.is_(None))
    if connection is not None:
        stmt = stmt.where(quarantine_t.c.connection == connection)
    return list(conn.execute(stmt.order_by(quarantine_t.c.id)))


def quarantine_counts(conn: Connection) -> dict[str, int]:
    """Unresolved quarantined records per connection."""
    stmt = (
        sa.select(quarantine_t.c.connection, sa.func.count())
        .where(quarantine_t.c.resolved_at.is_(None))
        .group_by(quarantine_t.c.connection)
    )
    return {connection: int(count) for connection, count in conn.execute(stmt)}


# --- OAuth tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredToken:
    refresh_token: str
    access_token: str | None
    expires_at: datetime | None
    version: int
    seed_fingerprint: str | None = None


def load_token(conn: Connection, connection: str, *, lock: bool = False) -> StoredToken | None:
    """The stored token; ``lock`` holds the row until the transaction ends (PostgreSQL
    ``FOR UPDATE``; on SQLite every write transaction is already exclusive)."""
    stmt = sa.select(tokens_t).where(tokens_t.c.connection == connection)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        return None
    return StoredToken(
        row.refresh_token, row.access_token, row.expires_at, row.version, row.seed_fingerprint
    )


def delete_token(conn: Connection, connection: str) -> None:
    conn.execute(tokens_t.delete().where(tokens_t.c.connection == connection))


def store_token(
    conn: Connection,
    connection: str,
    token: StoredToken,
    expected_version: int | None,
) -> bool:
    """Compare-and-set: write ``token`` only if the stored version is still ``expected_version``
    (None: only if no token is stored yet). False means another worker rotated it first."""
    values = {
        "refresh_token": token.refresh_token,
        "access_token": token.access_token,
        "expires_at": token.expires_at,
        "seed_fingerprint": token.seed_fingerprint,
        "updated_at": _now(),
    }
    if expected_version is None:
        stmt = insert_for(conn, tokens_t).values(connection=connection, version=1, **values)
        stmt = stmt.on_conflict_do_nothing(index_elements=["connection"])
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
        return conn.execute(stmt.returning(tokens_t.c.connection)).first() is not None
    stmt = (
        tokens_t.update()
        .where(tokens_t.c.connection == connection, tokens_t.c.version == expected_version)
        .values(version=expected_version + 1, **values)
    )
    return bool(conn.execute(stmt).rowcount)


# --- connector state ---------------------------------------------------------------------------


def get_state(conn: Connection, connection: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored values of ``keys`` (missing keys are absent from the result)."""
    if not keys:
        return {}
    stmt = sa.select(state_t.c.key, state_t.c.value).where(
        state_t.c.connection == connection, state_t.c.key.in_(list(keys))
    )
    return {row.key: row.value for row in conn.execute(stmt)}


def put_state(conn: Connection, connection: str, values: dict[str, dict[str, Any]]) -> None:
    rows = [
        {"connection": connection, "key": key, "value": value, "updated_at": _now()}
        for key, value in values.items()
    ]
    upsert(conn, state_t, rows, key=["connection", "key"])
