"""Recordings after a create: the source's own audio, or its URL, streamed into the target.

A mixin of :class:`syncer.push.Pusher` (its attributes are the pusher's); a recording that
cannot be attached is logged and skipped: the call itself is written either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import structlog
from sqlalchemy.engine import Engine

from connectors.base import Connector
from syncer.errors import VendorError
from syncer.model import Call
from syncer.store import repo

log = structlog.get_logger("callsync.push")


class Recordings:
    engine: Engine
    target: Connector
    source: Connector | None
    fetch_url: Callable[[str], AbstractContextManager[Iterator[bytes]]] | None
    stats: Any

    @property
    def name(self) -> str:
        return self.target.context.name

    def _attach_recording(self, call: Call, remote_id: str) -> None:
        if not self.target.write_support.recording_file:
            return
        refused = self.target.refuses_recording(remote_id)
        if refused is not None:
            log.info("push.recording_refused", target=self.name, call=call.call_uid, why=refused)
            return
        stream = self._open_recording(call)
        if stream is None:
            return
        try:
            with stream as chunks:
                self.target.attach_recording(remote_id, call, chunks, "audio/mpeg")
        except (VendorError, httpx.HTTPError) as error:
            log.warning(
                "push.recording_failed", target=self.name, call=call.call_uid, error=str(error)
            )
            return
        self.stats.recordings += 1

    def _open_recording(self, call: Call) -> AbstractContextManager[Iterator[bytes]] | None:
        if self.source is not None:
            # Calls come from the store without their payload; the source decides from it
            # (e.g. Amplemarket serves dialer audio only through GET /calls/{id}/recording).
            own = self.source.open_recording(self._with_payload(call))
            if own is not None:
                return own
        if call.recording_url and call.recording_url.startswith(("https://", "http://")):
            return (self.fetch_url or stream_url)(call.recording_url)
        return None

    def _with_payload(self, call: Call) -> Call:
        if call.raw:
            return call
        with self.engine.connect() as conn:
            raw = repo.source_payload(conn, call.source.connection, call.source.external_id)
        return call if raw is None else call.model_copy(update={"raw": raw})


@contextmanager
def stream_url(url: str) -> Iterator[Iterator[bytes]]:
    """Stream a recording from its URL in chunks, never holding the file in memory."""
    with (
        httpx.Client(timeout=60, follow_redirects=True) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        yield response.iter_bytes(64 * 1024)
