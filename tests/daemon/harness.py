"""``callsync run`` as a subprocess against the four emulators on loopback, for daemon tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.chaos.trial import Trial


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def daemon_config(
    trial: Trial, *, every: str = "2s", grace: str = "20s", path: Path | None = None
) -> int:
    """Rewrite the trial's config (or write a copy to ``path``) for a fast schedule with a
    health listener; its port."""
    port = free_port()
    text = trial.config.read_text()
    start = text.index("\nschedule:")
    end = text.index("\nmatching:") if "\nmatching:" in text else text.index("\n# The same")
    schedule = (
        f"\nschedule:\n  default_every: {every}\n  shutdown_grace: {grace}\n"
        f"  http: 127.0.0.1:{port}\n"
    )
    text = text[:start] + schedule + text[end:]
    # Every connection polls on the default schedule in these tests.
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("every:"))
    (path or trial.config).write_text(text + "\n")
    return port


class RunningDaemon:
    def __init__(
        self,
        trial: Trial,
        port: int,
        log: Path,
        config: Path | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self._log = log.open("w")
        command = [sys.executable, "-m", "syncer", *options, "run"]
        self.process = subprocess.Popen(
            [*command, "--config", str(config or trial.config)],
            env=trial.env,
            cwd=trial.directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, trust_env=False)

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited {self.process.returncode}: {self.output()}")
            try:
                if predicate():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {self.output()[-3000:]}")

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """sample name and labels -> value, parsed as a Prometheus scraper would."""
        samples = {}
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def job_runs(self, job: str) -> float:
        key = ("callsync_job_duration_seconds_count", (("job", job),))
        return self.metrics().get(key, 0.0)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()
