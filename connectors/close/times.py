"""Close timestamps: parsing what Close prints and printing what Close filters on.

Close prints object times with an offset, with or without a fraction
(``2024-03-20T06:33:10+00:00``, ``...33.637000+00:00``) and event-log times without one
(``2024-03-21T09:00:00.120000``, §1.13); all are UTC. Close keeps milliseconds (§1.9), so
window bounds are cut to milliseconds and always sent as full ISO-8601 UTC (gotcha 1.12-g).
"""

from __future__ import annotations

from datetime import UTC, datetime

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Before any Close account existed: the lower bound of a pull over the whole history."""


def parse_time(value: str) -> datetime:
    """An aware UTC datetime from a Close timestamp (naive values are UTC); ValueError if bad."""
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_ms(moment: datetime) -> datetime:
    """``moment`` in UTC, cut to Close's millisecond precision."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def filter_value(moment: datetime) -> str:
    """A filter value Close cannot read in another zone: ``2026-01-05T09:00:00.000Z``."""
    moment = to_ms(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamp(moment: datetime) -> str:
    """How instants are kept in cursors and state (ISO-8601, UTC)."""
    return moment.astimezone(UTC).isoformat()
