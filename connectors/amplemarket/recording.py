"""``open_recording``: stream a dialer call's audio from ``GET /calls/{id}/recording``.

Facts (§1.10): the answer is the raw ``audio/mpeg`` file (not JSON, not a redirect); only
calls made in Amplemarket's dialer (``external: false``) have one; the endpoint allows 50
requests per hour, on top of the account's 500 per minute (§1.12); 404 ``not_found`` and 413
``content_too_large`` are documented.

The file is streamed (``httpx`` ``stream``) in chunks and never held in memory. Downloads
have their own pacer (``recordings_per_hour``, burst = the rest of the hour's 50) besides the
credential's shared one. Failures raise :class:`~syncer.errors.VendorError` (the engine logs
them and goes on: a recording is best effort).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from connectors.amplemarket.client import VENDOR, credential_key, error_detail
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import ConnectorContext
from syncer.errors import VendorError
from syncer.http.client import DEFAULT_TIMEOUT
from syncer.http.ratelimit import Pacer

CHUNK_BYTES = 64 * 1024


class Recordings:
    """One HTTP client for audio downloads (created on first use)."""

    def __init__(
        self,
        context: ConnectorContext,
        settings: AmplemarketSettings,
        base_url: str,
        auth: httpx.Auth,
    ) -> None:
        self.context = context
        self.settings = settings
        self.base_url = base_url
        self.auth = auth
        self._client: httpx.Client | None = None
        key = credential_key(settings.api_key)
        self.shared: Pacer = context.pacers.get(key, settings.requests_per_second, settings.burst)
        self.pacer: Pacer = context.pacers.get(
            f"{key}:recordings", settings.recordings_per_hour / 3600, settings.recording_burst
        )

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url,
                auth=self.auth,
                headers={"Accept": "audio/mpeg"},
                transport=self.context.transport,
                timeout=DEFAULT_TIMEOUT,
                follow_redirects=False,
            )
        return self._client

    @contextmanager
    def open(self, call_id: str) -> Iterator[Iterator[bytes]]:
        """The recording of dialer call ``call_id`` as a stream of chunks."""
        self.pacer.acquire()
        self.shared.acquire()
        path = f"/calls/{call_id}/recording"
        with self.client().stream("GET", path) as response:
            if response.status_code != 200:
                response.read()
                detail = error_detail(response.text)
                raise VendorError(VENDOR, response.status_code, f"GET {path}: {detail}")
            yield response.iter_bytes(CHUNK_BYTES)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
