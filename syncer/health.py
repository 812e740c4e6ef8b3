"""The daemon's HTTP listener (``schedule.http``): ``/healthz``, ``/readyz`` and ``/metrics``.

- ``/healthz`` is 200 while the database answers and every job has completed (ok or not)
  within a few of its intervals; otherwise 503 with the reason in the body. A supervisor that
  restarts on 503 restarts a daemon that is wedged, not one whose vendor is down (a failing
  job still completes; its error is in ``status`` and the metrics).
- ``/readyz`` is 200 once the scheduler runs and until shutdown begins.
- ``/metrics`` is the Prometheus text format (``syncer/metrics.py``).

Standard-library ``ThreadingHTTPServer``: three plain endpoints do not justify a web framework.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST

from syncer import metrics


class HealthSource(Protocol):
    def health_problems(self) -> list[str]:
        """What is wrong right now, in words; empty when healthy."""
        ...

    def ready(self) -> bool: ...


class HealthServer:
    """Serves ``source``'s health on ``host:port`` from a background thread."""

    def __init__(self, address: str, source: HealthSource) -> None:
        host, _, port = address.rpartition(":")
        handler = _handler_for(source)
        self._server = ThreadingHTTPServer((host, int(port)), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="callsync-health", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(source: HealthSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._answer(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                problems = source.health_problems()
                body = "\n".join(problems) if problems else "ok"
                self._answer(503 if problems else 200, (body + "\n").encode())
            elif self.path == "/readyz":
                ready = source.ready()
                self._answer(200 if ready else 503, b"ready\n" if ready else b"not ready\n")
            else:
                self._answer(404, b"not found: try /healthz, /readyz or /metrics\n")

        def _answer(
            self, status: int, body: bytes, kind: str = "text/plain; charset=utf-8"
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds would drown the daemon's own log lines."""

    return Handler
