"""Recordings the emulators seed, served by the emulator itself (never a made-up host).

Seeded calls name their recordings by a path, ``/recordings/<name>.mp3`` (:func:`recording_path`):
the base URL is known only once a server is bound to a port, and the same emulator also answers
in-process under whatever base URL the connector uses. :func:`resolve_paths` turns every JSON
string that starts with that path into an absolute URL on the base URL the request came in on,
so a record always points back at the emulator that rendered it: a demo or a sync never looks
up an outside host. ``GET /recordings/<name>.mp3`` (:func:`serve_recording`, no credentials, like
the signed media links vendors hand out) answers a small deterministic ``audio/mpeg`` body.

The bytes (:func:`fake_mp3`) start with an ID3v2 tag followed by MPEG-1 Layer III frame headers,
so tools that sniff the format see an MP3; the payload is seeded noise, the same on every run.
"""

from __future__ import annotations

import random
import re

from connectors.emulation.http import EmuRequest, EmuResponse

RECORDINGS = "/recordings/"
ROUTE = "/recordings/{name}"
SERVED_FRAMES = 16  # about 1.7 kB: enough to be audio-shaped, small enough for every demo call
_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.mp3$")
_ID3_HEADER = b"ID3\x04\x00\x00\x00\x00\x00\x00"  # ID3v2.4, no flags, empty tag
_FRAME_HEADER = b"\xff\xfb\x10\xc4"  # MPEG-1 Layer III, 32 kbit/s, 44.1 kHz, mono
FRAME_BYTES = 104  # 144 * 32000 / 44100, without padding
ID3_BYTES = len(_ID3_HEADER)
_PAYLOAD_BYTES = FRAME_BYTES - len(_FRAME_HEADER)


def recording_path(name: str) -> str:
    """Where a seeded recording lives on its emulator (``name`` without ``.mp3``)."""
    return f"{RECORDINGS}{name}.mp3"


def resolve_paths(body: bytes, base_url: str) -> bytes:
    """``body`` (JSON) with every string value starting ``/recordings/`` made absolute on
    ``base_url``. Only a JSON string opening (``"``) is rewritten, never text inside a value."""
    marker = f'"{RECORDINGS}'.encode()
    if marker not in body:
        return body
    return body.replace(marker, f'"{base_url.rstrip("/")}{RECORDINGS}'.encode())


def fake_mp3(seed: str, size: int) -> bytes:
    """``size`` bytes (rounded down to whole frames) of MP3-shaped audio for ``seed``."""
    frames = max(1, (size - ID3_BYTES) // FRAME_BYTES)
    noise = random.Random(seed).randbytes(frames * _PAYLOAD_BYTES)
    parts = [_ID3_HEADER]
    for index in range(frames):
        start = index * _PAYLOAD_BYTES
        parts.append(_FRAME_HEADER)
        parts.append(noise[start : start + _PAYLOAD_BYTES])
    return b"".join(parts)


def serve_recording(_request: EmuRequest, params: dict[str, str]) -> EmuResponse:
    """``GET /recordings/<name>.mp3``: the same bytes for the same name, every run."""
    name = params["name"]
    if not _NAME.match(name):
        return EmuResponse(404, b"no such recording", {"content-type": "text/plain"})
    body = fake_mp3(name, ID3_BYTES + SERVED_FRAMES * FRAME_BYTES)
    return EmuResponse(200, body, {"content-type": "audio/mpeg"})
