"""The database schema as SQLAlchemy 2 typed models. Migrations in ``migrations/`` follow it.

Every datetime column is a :class:`UtcDateTime`: timezone-aware in Python, UTC in the database,
on SQLite (which has no timezone type) as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, MetaData, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        utc = value.astimezone(UTC)
        # SQLite stores text without an offset; keep it naive UTC there.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class CallRow(Base):
    """A canonical call: one real phone call, however many systems logged it."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.UniqueConstraint("origin_connection", "origin_external_id"),
        sa.Index(None, "to_e164", "started_at"),
        sa.Index(None, "from_e164", "started_at"),
    )

    call_uid: Mapped[str] = mapped_column(String(36), primary_key=True)
    origin_system: Mapped[str] = mapped_column(String(32))
    origin_connection: Mapped[str] = mapped_column(String(64))
    origin_external_id: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    from_e164: Mapped[str | None] = mapped_column(String(20))
    to_e164: Mapped[str | None] = mapped_column(String(20))
    duration_seconds: Mapped[int | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


class SourceRecordRow(Base):
    """A vendor record as read (raw payload + hash), and the canonical call it belongs to."""

    __tablename__ = "source_records"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    call_uid: Mapped[str] = mapped_column(
        sa.ForeignKey("calls.call_uid", ondelete="CASCADE"), index=True
    )
    raw: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=_now)
    incomplete: Mapped[str | None] = mapped_column(Text)
    """Why the stored call lacks a label a failed look-up should have given (``Connector.
    incomplete``); such records are re-mapped from ``raw`` on later pulls until it is None."""


class CallLinkRow(Base):
    """The write ledger: one row per (call, target), from intent to the remote record.

    ``state`` is one of :data:`syncer.store.ledger.STATES` (the state diagram is in
    ``syncer/push.py``); ``kind`` says why the row exists: ``written`` (callsync created or
    adopted the record) or ``matched`` (an independently logged twin, linked and never written).
    """

    __tablename__ = "call_links"
    __table_args__ = (
        sa.UniqueConstraint("target_connection", "remote_id"),
        sa.Index(None, "target_connection", "state", "next_attempt_at"),
    )

    call_uid: Mapped[str] = mapped_column(
        sa.ForeignKey("calls.call_uid", ondelete="CASCADE"), primary_key=True
    )
    target_connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="written", server_default="written")
    marker: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str | None] = mapped_column(String(255))
    written_hash: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    # What an in-doubt or needs-review row knows: what was sent, what the look-up saw.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Per canonical field, what the last write reconciled (``syncer/conflicts.py``): the
    # source's value digests (``basis``) and the values the target holds (``held``).
    written_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Fields a pull found edited on callsync's copy in the target since: values and when.
    target_edits: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


class CallOverrideRow(Base):
    """A target's edit of a call accepted as the canonical call's value of one field
    (``syncer/conflicts.py``, ``Override``): applied whenever the call is stored from its source,
    until a later source change of the field wins it back."""

    __tablename__ = "call_overrides"

    call_uid: Mapped[str] = mapped_column(
        sa.ForeignKey("calls.call_uid", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]  # {"value": <the field's JSON value>} (a null note included)
    edited_at: Mapped[datetime | None]
    target_connection: Mapped[str] = mapped_column(String(64))
    basis: Mapped[str] = mapped_column(String(64))
    yields: Mapped[bool] = mapped_column(sa.Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


class CursorRow(Base):
    """Read position per connection and stream: the last completed one and a partial one."""

    __tablename__ = "cursors"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    completed: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    partial: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


class QuarantineRow(Base):
    """A record that could not be mapped or written, with why, kept for retry and review."""

    __tablename__ = "quarantine"
    __table_args__ = (sa.UniqueConstraint("connection", "record_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(255))
    raw: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=_now)
    resolved_at: Mapped[datetime | None]
    mapping_fingerprint: Mapped[str | None] = mapped_column(String(64))
    """The mapping inputs the record was last mapped with (``syncer.quarantine.
    mapping_fingerprint``): a pull retries the row when they changed. NULL on older rows."""


class SyncRunRow(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (sa.Index(None, "connection", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # pull | push | backfill
    status: Mapped[str] = mapped_column(String(16))  # running|ok|failed|aborted|busy|died
    started_at: Mapped[datetime] = mapped_column(default=_now)
    finished_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class LeaseRow(Base):
    """Who may work on a named resource (a connection's stream, a route's target) until when.

    ``token`` grows by one each time the lease changes hands: a write fenced with an older token
    is refused, so a worker that lost its lease cannot record anything. ``host``, ``pid`` and
    ``pid_started`` name the holding process, so a lease of a process that died on this host is
    taken over at once (``syncer/processes.py``); they are NULL on rows from before 0005.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    token: Mapped[int] = mapped_column(sa.BigInteger, default=1, server_default="1")
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime] = mapped_column(default=_now)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(sa.Integer)
    pid_started: Mapped[int | None] = mapped_column(sa.BigInteger)


class OAuthTokenRow(Base):
    """The one place secrets live in the database: rotating OAuth tokens per connection."""

    __tablename__ = "oauth_tokens"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    refresh_token: Mapped[str] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    # A digest of the refresh token the config supplied when this row was seeded: when an
    # admin re-authorises and puts a new token in the config, the stored chain is replaced.
    seed_fingerprint: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


class ConnectorStateRow(Base):
    """Small keyed facts a connector needs between runs that are not cursors (e.g. which
    Pipedrive call log belongs to which activity). Values are JSON."""

    __tablename__ = "connector_state"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


class ReviewItemRow(Base):
    """Something only a person can settle, with its evidence: today a duplicate pair (a call
    logged by hand in a target next to the copy callsync had already written there)."""

    __tablename__ = "review_items"
    __table_args__ = (sa.UniqueConstraint("kind", "connection", "subject", "other"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    connection: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))  # a call uid
    other: Mapped[str] = mapped_column(String(64))  # the call uid it is paired with
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
