"""HTTP to Pipedrive: API-token auth, response envelopes, the two list shapes, rate limits.

Facts relied on (vendor-apis close-pipedrive.md §2):
- Auth is the ``x-api-token`` header (§2.1; the old ``?api_token=`` query is UNCONFIRMED, so it
  is never used and the token never appears in a URL). Base URL: the company domain
  (``https://{company_domain}.pipedrive.com``) routes fastest, else ``api.pipedrive.com``
  (§2.2); paths are the full ``/api/v1/...`` and ``/api/v2/...`` forms.
- Envelopes ``{success, data, additional_data}`` and ``{success: false, error, error_info}``
  (§2.10); v1 lists may answer ``data: null`` for nothing (treated as ``[]``).
- ``/v1/callLogs``: offset paging ``start``/``limit`` (limit at most 50), continue while
  ``additional_data.pagination.more_items_in_collection`` (§2.3). v2 activities: ``cursor`` ->
  ``additional_data.next_cursor``, null on the last page (§2.4).
- Burst limit per token in a rolling 2 s window, ``x-ratelimit-limit/-remaining/-reset``
  (seconds) -> :class:`RateLimitHint` (§2.9); the pacer stays under ``burst_share`` of it.
  Daily budget and token prices: :mod:`connectors.pipedrive.budget`.
- Clients that keep hitting 429 may get a 403 HTML page from Cloudflare [P-3p]: a transient
  block, not a permission problem. 401 is a bad token (§2.10).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from connectors.base import ConnectorContext, JsonDict
from connectors.pipedrive.budget import DailyBudget
from connectors.pipedrive.settings import BURST_WINDOW_SECONDS, PipedriveSettings
from syncer.errors import (
    AmbiguousWriteError,
    AuthError,
    RateLimitedError,
    TransientError,
    VendorError,
)
from syncer.http import RateLimitHint, VendorClient
from syncer.http.ratelimit import first_int

log = structlog.get_logger("callsync.pipedrive")

ORIGIN = "https://api.pipedrive.com"
CALL_LOGS = "/api/v1/callLogs"
USERS_ME = "/api/v1/users/me"
USERS = "/api/v1/users"
ACTIVITIES = "/api/v2/activities"
IDS_PER_REQUEST = 100  # §2.4: `ids` takes at most 100 ids
MALFORMED_ATTEMPTS = 3  # a 200 whose body is not a Pipedrive envelope is asked for again


class PipedriveUnavailableError(TransientError):
    """5xx after retries, no answer, or unreadable answers: try again on a later run."""


class PipedriveBlockedError(TransientError):
    """The edge (Cloudflare) blocked the token for hammering after 429s: wait it out."""


@dataclass(frozen=True)
class CallLogPage:
    records: list[JsonDict]
    more: bool


@dataclass(frozen=True)
class ActivityPage:
    records: list[JsonDict]
    next_cursor: str | None


class ApiTokenAuth(httpx.Auth):
    """Sends the token in ``x-api-token``; its repr never shows it."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-api-token"] = self._token.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return "ApiTokenAuth(**********)"


def burst_hint(headers: httpx.Headers) -> RateLimitHint | None:
    """``x-ratelimit-remaining`` / ``-reset`` (seconds left in the 2 s window) / ``-limit``."""
    remaining = first_int(headers.get("x-ratelimit-remaining"))
    reset = first_int(headers.get("x-ratelimit-reset"))
    if remaining is None and reset is None:
        return None
    return RateLimitHint(
        remaining,
        None if reset is None else float(reset),
        first_int(headers.get("x-ratelimit-limit")),
    )


def credential_key(token: SecretStr) -> str:
    """The pacer key: the kind plus a fingerprint of the token (never the token itself)."""
    return "pipedrive:" + hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:32]


def base_url(settings: PipedriveSettings) -> str:
    if settings.base_url is not None:
        return str(settings.base_url).rstrip("/")
    if settings.company_domain:
        return f"https://{settings.company_domain}.pipedrive.com"
    return ORIGIN


def pacing(settings: PipedriveSettings) -> tuple[float, int]:
    """(rate per second, burst) keeping any 2 s window under ``burst_share`` of the limit.

    A token bucket lets ``burst + rate * window`` requests through in any window, so the
    burst stays at 1 (requests go one at a time anyway) and the rate takes the rest.
    """
    allowed = max(1.0, settings.burst_limit * settings.burst_share)
    return max(0.1, (allowed - 1) / BURST_WINDOW_SECONDS), 1


class PipedriveClient:
    """The requests the connector makes, each returning plain vendor dicts."""

    def __init__(
        self, context: ConnectorContext, settings: PipedriveSettings, budget: DailyBudget
    ) -> None:
        rate, burst = pacing(settings)
        self.http = VendorClient(
            vendor="pipedrive",
            base_url=base_url(settings),
            pacer=context.pacers.get(credential_key(settings.api_token), rate, burst),
            auth=ApiTokenAuth(settings.api_token),
            headers={"accept": "application/json"},
            hints=burst_hint,
            transport=context.transport,
            cost=budget.charge,
            observe=budget.observe,
            sleep=context.sleep or time.sleep,
        )

    def close(self) -> None:
        self.http.close()

    def me(self) -> JsonDict:
        data = self._get(USERS_ME).get("data")
        if not isinstance(data, dict):
            raise VendorError("pipedrive", 200, "users/me answered no user")
        return data

    def users(self) -> list[JsonDict]:
        """Every user of the company (one unpaged v1 list)."""
        return _items(self._get(USERS))

    def call_log_page(self, start: int, limit: int) -> CallLogPage:
        body = self._get(CALL_LOGS, {"start": start, "limit": limit})
        pagination = (body.get("additional_data") or {}).get("pagination") or {}
        return CallLogPage(_items(body), pagination.get("more_items_in_collection") is True)

    def call_log(self, log_id: str) -> JsonDict | None:
        """One call log, or None when it is gone (404, or 410 for a deleted one)."""
        try:
            data = self._get(f"{CALL_LOGS}/{log_id}").get("data")
        except VendorError as error:
            if error.status in (404, 410):
                return None
            raise
        return data if isinstance(data, dict) else None

    def activities(
        self, *, since: str | None, cursor: str | None, limit: int, by_id: bool = False
    ) -> ActivityPage:
        """Activities updated at or after ``since``, oldest update first (§2.4, §2.8); or, with
        ``by_id``, every activity in id order (a walk of the whole history whose positions do
        not move when an activity is edited during it)."""
        params: dict[str, Any] = {
            "sort_by": "id" if by_id else "update_time",
            "sort_direction": "asc",
            "limit": limit,
        }
        if since is not None:
            params["updated_since"] = since
        if cursor is not None:
            params["cursor"] = cursor
        body = self._get(ACTIVITIES, params)
        next_cursor = (body.get("additional_data") or {}).get("next_cursor")
        return ActivityPage(_items(body), next_cursor if isinstance(next_cursor, str) else None)

    def activities_by_ids(self, ids: Sequence[int]) -> Iterator[JsonDict]:
        """The activities with these ids (those still visible), 100 ids per request."""
        for first in range(0, len(ids), IDS_PER_REQUEST):
            chunk = ",".join(str(i) for i in ids[first : first + IDS_PER_REQUEST])
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"ids": chunk, "limit": IDS_PER_REQUEST}
                if cursor is not None:
                    params["cursor"] = cursor
                body = self._get(ACTIVITIES, params)
                yield from _items(body)
                cursor = (body.get("additional_data") or {}).get("next_cursor")
                if not isinstance(cursor, str):
                    break

    # --- the write path's requests -------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> JsonDict:
        """Any GET, answered by a success envelope (look-ups of the write path)."""
        return self._get(path, params)

    def send(self, method: str, path: str, *, create: bool = False, **kwargs: Any) -> JsonDict:
        """A POST/PATCH/DELETE and its success envelope; ``kwargs`` go to httpx.

        ``create``: the request makes a record and is never resent, so an unreadable 200 is an
        :class:`AmbiguousWriteError`, like a lost response or a 5xx (``VendorClient`` decides
        those, for every vendor).
        """
        try:
            response = self.http.request(method, path, **kwargs)
        except VendorError as error:
            mapped = _classified(error)
            if mapped is error:
                raise
            raise mapped from error
        except httpx.TransportError as error:  # could not connect, even after retries
            raise PipedriveUnavailableError(f"pipedrive {path}: {type(error).__name__}") from error
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("success") is True:
            return body
        if create:
            raise AmbiguousWriteError(f"pipedrive {method} {path}: unreadable answer")
        raise VendorError("pipedrive", response.status_code, f"{path}: not a success envelope")

    # --- plumbing -------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> JsonDict:
        for attempt in range(1, MALFORMED_ATTEMPTS + 1):
            response = self._send(path, params)
            try:
                body = response.json()
            except ValueError:
                log.warning("pipedrive.unreadable_body", path=path, attempt=attempt)
                continue
            if isinstance(body, dict) and body.get("success") is True:
                return body
            raise VendorError("pipedrive", response.status_code, f"{path}: not a success envelope")
        raise PipedriveUnavailableError(f"pipedrive {path}: unreadable answers")

    def _send(self, path: str, params: dict[str, Any] | None) -> httpx.Response:
        try:
            return self.http.request("GET", path, params=params)
        except VendorError as error:
            mapped = _classified(error)
            if mapped is error:
                raise
            raise mapped from error
        except httpx.TransportError as error:
            raise PipedriveUnavailableError(f"pipedrive {path}: {type(error).__name__}") from error


def _classified(error: VendorError) -> Exception:
    if error.status == 401:
        return AuthError(error.vendor, error.status, error.message, error.body)
    if error.status == 429:  # still limited after every retry: a later pull goes on
        return RateLimitedError(error.vendor, BURST_WINDOW_SECONDS)
    if error.status == 403 and error.body.lstrip().startswith("<"):
        return PipedriveBlockedError("pipedrive blocked the token (HTML 403 after 429s)")
    if error.status >= 500:
        return PipedriveUnavailableError(f"pipedrive answered {error.status}")
    return error


def _items(body: JsonDict) -> list[JsonDict]:
    data = body.get("data")
    if data is None:
        return []  # v1 lists answer null when there is nothing
    if not isinstance(data, list):
        raise VendorError("pipedrive", 200, "a list answered something else than a list")
    items = [item for item in data if isinstance(item, dict)]
    if len(items) != len(data):
        log.warning("pipedrive.non_object_items", skipped=len(data) - len(items))
    return items
