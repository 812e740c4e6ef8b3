"""Run emulators as real HTTP servers on 127.0.0.1, one port each, in background threads."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from connectors.emulation.base import Emulator
from connectors.emulation.http import EmuRequest, TransportFault


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's
            # algorithm meets the client's delayed ACK and every response stalls ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:
            """Silence per-request logging; the emulator keeps its own stats."""

        def _body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                return self._chunked_body()
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        def _chunked_body(self) -> bytes:
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()

        def _serve(self) -> None:
            split = urlsplit(self.path)
            host = self.headers.get("host") or "127.0.0.1"
            request = EmuRequest.build(
                self.command,
                split.path,
                query=split.query,
                headers=dict(self.headers.items()),
                body=self._body(),
                base_url=f"http://{host}",
            )
            response = emulator.handle(request)
            if response.transport_fault is TransportFault.TIMEOUT:
                time.sleep(emulator.faults.timeout_seconds)
            if response.transport_fault is not None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


@dataclass
class RunningServer:
    emulator: Emulator
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(emulator: Emulator, port: int = 0, host: str = "127.0.0.1") -> RunningServer:
    """Start ``emulator`` on ``host:port`` (0 picks a free port) in a daemon thread."""
    server = ThreadingHTTPServer((host, port), _handler_for(emulator))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"emulator-{emulator.name}")
    thread.daemon = True
    thread.start()
    return RunningServer(emulator, server, thread)


def stop_all(servers: Iterable[RunningServer]) -> None:
    for running in servers:
        running.stop()
