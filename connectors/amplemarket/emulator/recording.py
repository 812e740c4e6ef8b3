"""Deterministic fake call recordings: MP3-shaped bytes of a realistic size.

``GET /calls/{id}/recording`` returns the raw ``audio/mpeg`` file (vendor doc §1.10), so the
bytes must be big enough for streaming to matter. A voice recording at 32 kbit/s is about
4 kB per second of call: a two-minute call is roughly half a megabyte. The bytes themselves
are the shared emulator audio (``connectors/emulation/media.py``).
"""

from __future__ import annotations

from connectors.emulation.media import FRAME_BYTES, ID3_BYTES, fake_mp3

__all__ = ["BYTES_PER_SECOND", "fake_mp3", "recording_size"]

BYTES_PER_SECOND = 4_000  # 32 kbit/s mono voice


def recording_size(duration_seconds: int | None) -> int:
    """The size of the recording of a call that lasted ``duration_seconds``."""
    frames = max(1, (duration_seconds or 0) * BYTES_PER_SECOND // FRAME_BYTES)
    return ID3_BYTES + frames * FRAME_BYTES
