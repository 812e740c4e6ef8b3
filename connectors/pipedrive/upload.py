"""Uploading a recording to a call log, streamed: ``POST /v1/callLogs/{id}/recordings``.

Facts (vendor-apis close-pipedrive.md §2.3, §2.11h): ``multipart/form-data`` with the audio in
the field ``file`` (any HTML5 audio format), 10 tokens; one recording per call log, a second
upload answers 409.

The body is a generator: the multipart framing is written around the source's chunks as they
arrive, so the file is never held in memory (httpx sends a generator with chunked transfer
encoding). A generator cannot be sent twice, so an upload is never retried here: an
interrupted or rate-limited upload is a :class:`~syncer.errors.TransientError` and the engine
streams the recording again later, when a 409 says the first attempt had landed after all.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator

import httpx
import structlog

from connectors.pipedrive.client import CALL_LOGS, PipedriveClient
from syncer.errors import AmbiguousWriteError, MappingFailure, TransientError, VendorError

log = structlog.get_logger("callsync.pipedrive")

_EXTENSIONS = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
}


class RecordingUploadError(TransientError):
    """The upload did not complete; stream the recording again on a later run."""


def boundary_for(call_uid: str) -> str:
    """A per-call boundary (deterministic, so a recorded request replays byte for byte)."""
    return "callsync-" + hashlib.sha256(call_uid.encode()).hexdigest()[:32]


def filename_for(call_uid: str, content_type: str) -> str:
    base = content_type.split(";")[0].strip().lower()
    extension = _EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".audio"
    return f"{call_uid}{extension}"


class OneShot:
    """An upload body that can be sent once: httpx wraps the same iterable again for a retry
    (``VendorClient`` resends a 429 even for a POST), and a spent generator would then go out
    as an empty body. The second send fails instead."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts: Iterator[bytes] | None = parts

    def __iter__(self) -> Iterator[bytes]:
        if self._parts is None:
            raise httpx.StreamConsumed
        parts, self._parts = self._parts, None
        return parts


def multipart(
    chunks: Iterator[bytes], *, boundary: str, filename: str, content_type: str
) -> Iterator[bytes]:
    """The ``file`` part framed around ``chunks``, one chunk at a time."""
    yield (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    for chunk in chunks:
        if chunk:
            yield bytes(chunk)
    yield f"\r\n--{boundary}--\r\n".encode()


def upload(
    client: PipedriveClient, log_id: str, call_uid: str, chunks: Iterator[bytes], content_type: str
) -> bool:
    """Stream the recording; True when uploaded, False when the log already had one (409)."""
    media = content_type.split(";")[0].strip().lower()
    if not media.startswith("audio/"):
        raise MappingFailure(f"Pipedrive takes audio recordings only, not {content_type!r}")
    boundary = boundary_for(call_uid)
    body = OneShot(
        multipart(
            chunks, boundary=boundary, filename=filename_for(call_uid, media), content_type=media
        )
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    path = f"{CALL_LOGS}/{log_id}/recordings"
    try:
        client.send("POST", path, content=body, headers=headers)
    except VendorError as error:
        if error.status == 409:
            log.info("pipedrive.recording_exists", call_log=log_id)
            return False
        raise
    except (AmbiguousWriteError, httpx.StreamError) as error:
        # The stream is spent (a lost answer, or a 429 retry that cannot resend it).
        raise RecordingUploadError(
            f"pipedrive recording upload for {log_id} did not complete ({type(error).__name__})"
        ) from error
    return True
