"""Amplemarket identifiers and timestamps.

Every Amplemarket id is a UUIDv7: its first 48 bits are the creation time in milliseconds
(vendor doc §1.3, verified on the doc examples), and a logged call's ``start_date`` equals that
time truncated to the second (§1.7: ``0199ba5b-e387…`` -> ``2025-10-06T16:30:08Z``). Because
the hex form of a UUIDv7 sorts like its timestamp, the emulator uses the id itself as the
newest-first sort key and turns ``start_date`` filters into id ranges (an index seek, never a
scan of the history).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

_RAND_BITS = 74  # UUIDv7: 12 bits rand_a + 62 bits rand_b
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def stable_bits(*parts: object, bits: int = _RAND_BITS) -> int:
    """Deterministic pseudo-random bits from ``parts`` (same input, same id on every run)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big") & ((1 << bits) - 1)


def uuid7(ms: int, rand: int) -> str:
    """A UUIDv7 string for creation time ``ms`` (epoch milliseconds) and 74 random bits."""
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    hex32 = f"{value:032x}"  # formatted by hand: uuid.UUID is slow when seeding 100k records
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


def uuid7_ms(value: str) -> int:
    """The creation time (epoch ms) embedded in a UUIDv7 string."""
    return int(value.replace("-", "")[:12], 16)


def id_floor(ms: int) -> str:
    """The shortest string that sorts at or before every id created at or after ``ms``."""
    hex12 = f"{max(ms, 0):012x}"
    return f"{hex12[:8]}-{hex12[8:]}"


def normalise_uuid(value: str) -> str | None:
    """``value`` as a lower-case canonical UUID, or None when it is not one."""
    lowered = value.strip().lower()
    return lowered if _UUID_RE.match(lowered) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(when: datetime) -> int:
    """Epoch milliseconds, in integer arithmetic (float timestamps can round a ms away)."""
    return (when - _EPOCH) // timedelta(milliseconds=1)


def iso_second(when: datetime) -> str:
    """Amplemarket's timestamp format: UTC, second precision, ``Z`` suffix (§1.3)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_ms(ms: int) -> str:
    return iso_second(datetime.fromtimestamp(ms / 1000, tz=UTC))
