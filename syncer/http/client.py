"""One HTTP client per connection: timeouts, connection limits, pacing, retries, redaction.

Connectors describe their vendor (base URL, auth, how to read its rate-limit headers, what
counts as an error) and send requests through :meth:`VendorClient.request`; everything about
waiting and retrying happens here, the same way for every vendor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from syncer.errors import (
    AmbiguousWriteError,
    AuthError,
    RateLimitedError,
    VendorError,
    VendorUnreachableError,
)
from syncer.http.explain import excerpt, vendor_message
from syncer.http.ratelimit import HintParser, Pacer, RateLimitHint, draft_hint, parse_retry_after
from syncer.http.retry import RETRY_STATUSES, SAFE_FOR_WRITES, RetryPolicy, answer_is_ambiguous

log = structlog.get_logger("callsync.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# A vendor that does not accept a connection within 5 s is down or unreachable for this run.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Connects refused or timed out in a row (across requests) before the circuit opens.
REFUSED_CONNECTS_TO_GIVE_UP = 3
AUTH_STATUSES = frozenset({401, 403})
DEFAULT_LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=5)


class RequestCounter:
    """Requests sent by this process (every attempt counts), for progress displays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = 0

    def add(self) -> None:
        with self._lock:
            self._sent += 1

    @property
    def sent(self) -> int:
        return self._sent


REQUESTS_SENT = RequestCounter()
ATTEMPT_EXTENSION = "callsync.attempt"  # 1 for a first try, 2+ for a retry of the same request


@dataclass
class Circuit:
    """Connects failed in a row, and why every further request fails at once (credentials
    rejected, the vendor unreachable). Clients of one account share it: an OAuth token
    exchange (its own client, without the bearer auth) and the requests it serves spend one
    budget of refused connects, so a vendor that is down is given up on after
    ``REFUSED_CONNECTS_TO_GIVE_UP`` connects in all."""

    refused: int = 0
    given_up: Exception | None = None


@dataclass
class VendorClient:
    """Sends requests to one vendor account.

    ``cost`` maps a request to its price against the pacer (Pipedrive charges tokens per
    endpoint; everyone else charges one request). ``sleep`` is injectable so tests do not wait.
    """

    vendor: str
    base_url: str
    pacer: Pacer
    auth: httpx.Auth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hints: HintParser = draft_hint
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    transport: httpx.BaseTransport | None = None
    cost: Callable[[str, str], float] = lambda _method, _path: 1.0
    observe: Callable[[httpx.Response], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    circuit: Circuit = field(default_factory=Circuit)
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=self.auth,
            headers=dict(self.headers),
            transport=self.transport,
            timeout=self.timeout,
            limits=DEFAULT_LIMITS,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> VendorClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request, retrying what is safe to retry; return the final 2xx response.

        Raises :class:`VendorError` for other answers, :class:`RateLimitedError` when the wait
        would pass the policy's cap, and :class:`AmbiguousWriteError` when a non-idempotent
        request may have been carried out: no answer came back after it was sent, or the answer
        is one that may hide a commit (:func:`~syncer.http.retry.answer_is_ambiguous`).
        """
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        path = httpx.URL(url).path or url
        if self.circuit.given_up is not None:
            raise self.circuit.given_up
        for attempt in range(1, self.policy.max_attempts + 1):
            self.pacer.acquire(self.cost(method, path))
            response = self._send(method, url, safe, attempt, kwargs)
            if response is None:
                continue
            hint = self.hints(response.headers)
            self.pacer.observe(hint)
            if self.observe is not None:
                self.observe(response)
            if response.status_code < 400:
                return response
            if not safe and answer_is_ambiguous(response.status_code):
                raise AmbiguousWriteError(
                    f"{self.vendor} {method} {path}: answered {response.status_code}"
                )
            if response.status_code in AUTH_STATUSES:
                raise self._rejected(response)
            if not self._retryable(response, safe, attempt):
                raise VendorError(
                    self.vendor, response.status_code, excerpt(response.text), response.text
                )
            self._wait(response, hint, attempt)
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def _send(
        self, method: str, url: str, safe: bool, attempt: int, kwargs: dict[str, Any]
    ) -> httpx.Response | None:
        REQUESTS_SENT.add()
        # The attempt rides along for transports that count retries (``syncer/metrics.py``).
        extensions = {**kwargs.pop("extensions", {}), ATTEMPT_EXTENSION: attempt}
        try:
            response = self._client.request(method, url, extensions=extensions, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the vendor: resending is safe even for a create.
            circuit = self.circuit
            circuit.refused += 1
            if circuit.refused >= REFUSED_CONNECTS_TO_GIVE_UP:
                circuit.given_up = VendorUnreachableError(
                    f"{self.vendor} at {self.base_url}: {circuit.refused} connections in a row "
                    f"failed ({type(exc).__name__}); giving up on it for this run"
                )
                raise circuit.given_up from exc
            self._transport_failure(exc, attempt, method, url)
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if not safe:
                raise AmbiguousWriteError(
                    f"{self.vendor} {method} {httpx.URL(url).path}: {type(exc).__name__}"
                ) from exc
            self._transport_failure(exc, attempt, method, url)
        else:
            self.circuit.refused = 0
            return response
        return None

    def _rejected(self, response: httpx.Response) -> AuthError:
        """401: the credentials are wrong (after the one refresh an OAuth auth flow makes), so
        every further request of this run is refused at once. 403 may be one endpoint's scope
        or one record's permission: raised, and the caller decides what it stops."""
        status = response.status_code
        what = "credentials rejected" if status == 401 else "not allowed"
        message = f"{what}: {vendor_message(response.text)}"
        error = AuthError(self.vendor, status, message, response.text)
        if status == 401:
            self.circuit.given_up = error
        return error

    def _transport_failure(self, exc: Exception, attempt: int, method: str, url: str) -> None:
        if attempt >= self.policy.max_attempts:
            raise exc
        wait = self.policy.backoff(attempt)
        log.warning(
            "http.retry",
            vendor=self.vendor,
            method=method,
            path=httpx.URL(url).path,
            error=type(exc).__name__,
            wait=round(wait, 2),
            attempt=attempt,
        )
        self.sleep(wait)

    def _retryable(self, response: httpx.Response, safe: bool, attempt: int) -> bool:
        status = response.status_code
        allowed = RETRY_STATUSES if safe else SAFE_FOR_WRITES
        return status in allowed and attempt < self.policy.max_attempts

    def _wait(self, response: httpx.Response, hint: RateLimitHint | None, attempt: int) -> None:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        reset = hint.reset_after if hint is not None and response.status_code == 429 else None
        wait = self.policy.wait(attempt, retry_after, reset)
        if wait > self.policy.max_wait_seconds:
            raise RateLimitedError(self.vendor, wait)
        log.warning(
            "http.retry",
            vendor=self.vendor,
            status=response.status_code,
            path=response.request.url.path,
            wait=round(wait, 2),
            attempt=attempt,
        )
        if response.status_code == 429:
            self.pacer.hold(wait)  # every request of this credential waits, this retry included
        else:
            self.sleep(wait)
