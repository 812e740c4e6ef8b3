"""Deterministic fake call recordings: MP3-shaped bytes of a realistic size.

``GET /calls/{id}/recording`` returns the raw ``audio/mpeg`` file (vendor doc §1.10), so the
bytes must be big enough for streaming to matter. A voice recording at 32 kbit/s is about
4 kB per second of call: a two-minute call is roughly half a megabyte. The bytes start with an
ID3v2 tag followed by MPEG-1 Layer III frame headers, so tools that sniff the format see an
MP3; the payload is seeded noise, identical for the same call on every run.
"""

from __future__ import annotations

import random

BYTES_PER_SECOND = 4_000  # 32 kbit/s mono voice
_ID3_HEADER = b"ID3\x04\x00\x00\x00\x00\x00\x00"  # ID3v2.4, no flags, empty tag
_FRAME_HEADER = b"\xff\xfb\x10\xc4"  # MPEG-1 Layer III, 32 kbit/s, 44.1 kHz, mono
_FRAME_BYTES = 104  # 144 * 32000 / 44100, without padding
_PAYLOAD_BYTES = _FRAME_BYTES - len(_FRAME_HEADER)


def recording_size(duration_seconds: int | None) -> int:
    """The size of the recording of a call that lasted ``duration_seconds``."""
    frames = max(1, (duration_seconds or 0) * BYTES_PER_SECOND // _FRAME_BYTES)
    return len(_ID3_HEADER) + frames * _FRAME_BYTES


def fake_mp3(seed: str, size: int) -> bytes:
    """``size`` bytes (rounded down to whole frames) of MP3-shaped audio for ``seed``."""
    frames = max(1, (size - len(_ID3_HEADER)) // _FRAME_BYTES)
    noise = random.Random(seed).randbytes(frames * _PAYLOAD_BYTES)
    parts = [_ID3_HEADER]
    for index in range(frames):
        start = index * _PAYLOAD_BYTES
        parts.append(_FRAME_HEADER)
        parts.append(noise[start : start + _PAYLOAD_BYTES])
    return b"".join(parts)
