"""Run an emulator in-process: an httpx transport that hands requests straight to it.

No sockets, so tests are fast; transport faults become the same exceptions httpx raises for a
real dropped connection or read timeout.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx

from connectors.emulation.base import Emulator
from connectors.emulation.http import EmuRequest, TransportFault


class EmulatorTransport(httpx.BaseTransport):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        url = request.url
        emu_request = EmuRequest(
            method=request.method,
            path=url.path,
            query=tuple(parse_qsl(url.query.decode(), keep_blank_values=True)),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            base_url=f"{url.scheme}://{url.netloc.decode()}",
        )
        response = self.emulator.handle(emu_request)
        if response.transport_fault is TransportFault.TIMEOUT:
            raise httpx.ReadTimeout("emulated read timeout", request=request)
        if response.transport_fault is not None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(
            response.status, headers=response.headers, content=response.body, request=request
        )
