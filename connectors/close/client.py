"""HTTP to Close: auth, endpoint groups and their pacers, rate-limit hints, error shapes.

- Auth (§1.1): HTTP Basic with the API key as username and an empty password.
- Base URL (§1.2): ``https://api.close.com`` + Close's full paths (``/api/v1/...``, trailing
  slash). ``x-tz-offset: 0`` goes with every request and filters are full ISO-8601 UTC anyway
  (gotcha 1.12-g).
- Rate limits (§1.10) apply per *endpoint group* and per key (the organisation gets 3x, shared
  with every other integration). One pacer per (credential, group), keyed by a SHA-256
  fingerprint of the key, paces at ``rate_limit_per_second * rate_share`` with a burst small
  enough that no one-second window can pass the limit. Group boundaries are unpublished
  (UNCONFIRMED): we group by resource (calls, events, everything else).
- ``ratelimit: limit=N, remaining=N, reset=S`` becomes a :class:`RateLimitHint`; fractional
  resets round up (§1.10). Retries, Retry-After and 429 holds are ``VendorClient``'s.
- Errors (§1.11): 401/403 -> :class:`AuthError`; a 400 naming ``max_skip = N`` ->
  :class:`MaxSkipError` (the caller narrows its window); a 200 whose body is not JSON (a
  truncated response) is retried, then ends the run as a :class:`TransientError`.
- Long id lists go through ``POST`` + ``x-http-method-override: GET`` + ``{"_params": ...}``
  (§1.2: URLs over ~2000 characters are a problem; 50 call ids are ~2,500 characters).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import structlog

from connectors.base import ConnectorContext, JsonDict
from connectors.close.settings import CloseSettings
from syncer.errors import AmbiguousWriteError, AuthError, TransientError, VendorError
from syncer.http import RateLimitHint, RetryPolicy, VendorClient
from syncer.http.ratelimit import draft_hint, first_int

log = structlog.get_logger("callsync.close")

BASE_URL = "https://api.close.com"
CALLS = "/api/v1/activity/call/"
EVENTS = "/api/v1/event/"
OUTCOMES = "/api/v1/outcome/"
ME = "/api/v1/me/"
USERS = "/api/v1/user/"
LEADS = "/api/v1/lead/"
SEARCH = "/api/v1/data/search/"

# Every documented call field (§1.3). ``_fields`` drops what it does not list (gotcha k), so
# asking for transcripts means listing all of these too.
CALL_FIELDS = (
    "_type,id,organization_id,lead_id,contact_id,user_id,user_name,created_by,created_by_name,"
    "updated_by,updated_by_name,date_created,date_updated,activity_at,outcome_id,source,status,"
    "users,sequence_id,sequence_name,sequence_subscription_id,direction,disposition,call_method,"
    "duration,cost,phone,remote_phone,remote_phone_formatted,remote_country_iso,local_phone,"
    "local_phone_formatted,local_country_iso,note,note_html,recording_url,voicemail_url,"
    "voicemail_duration,dialer_id,dialer_saved_search_id"
)
TRANSCRIPT_FIELDS = "recording_transcript,voicemail_transcript"
UNREADABLE_BODY_ATTEMPTS = 3

_MAX_SKIP = re.compile(r"max_skip\s*=\s*(\d+)")
_PAIR = re.compile(r"(\w+)\s*=\s*(-?\d+(?:\.\d+)?)")


class MaxSkipError(VendorError):
    """The call list refused a ``_skip`` this deep; ``max_skip`` is Close's real cap."""

    def __init__(self, max_skip: int, body: str) -> None:
        super().__init__("close", 400, f"_skip is capped at max_skip = {max_skip}", body)
        self.max_skip = max_skip


def close_hint(headers: httpx.Headers) -> RateLimitHint | None:
    """``ratelimit: limit=40, remaining=39, reset=0.4`` (fractional resets round up); then the
    legacy ``X-Rate-Limit-*`` headers; then the generic IETF-draft fields."""
    value = headers.get("ratelimit")
    if value is not None:
        pairs = {key.lower(): float(number) for key, number in _PAIR.findall(value)}
        if "remaining" in pairs or "reset" in pairs:
            reset = pairs.get("reset")
            limit = pairs.get("limit")
            remaining = pairs.get("remaining")
            return RateLimitHint(
                remaining=None if remaining is None else int(remaining),
                reset_after=None if reset is None else float(max(1, math.ceil(reset))),
                limit=None if limit is None else int(limit),
            )
    remaining_legacy = first_int(headers.get("x-rate-limit-remaining"))
    if remaining_legacy is not None:
        reset_legacy = headers.get("x-rate-limit-reset")
        reset = _number(reset_legacy)
        return RateLimitHint(
            remaining_legacy, None if reset is None else max(1.0, math.ceil(reset))
        )
    return draft_hint(headers)


def _number(text: str | None) -> float | None:
    try:
        return None if text is None else float(text.strip())
    except ValueError:
        return None


def credential_key(api_key: str) -> str:
    """The pacer key of a credential: the kind plus a fingerprint, never the secret itself."""
    return "close:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def endpoint_group(path: str) -> str:
    if path.startswith(CALLS):
        return "calls"
    if path.startswith(EVENTS):
        return "events"
    return "other"


class CloseApi:
    """The Close endpoints the read path uses, over one ``VendorClient`` per endpoint group."""

    def __init__(self, context: ConnectorContext, settings: CloseSettings) -> None:
        self._context = context
        self._settings = settings
        self._sleep = context.sleep or time.sleep
        self._clients: dict[str, VendorClient] = {}
        self._policy = RetryPolicy()
        self.call_fields = (
            f"{CALL_FIELDS},{TRANSCRIPT_FIELDS}" if settings.include_transcripts else None
        )

    # --- plumbing ------------------------------------------------------------------------------

    def _client(self, path: str) -> VendorClient:
        group = endpoint_group(path)
        client = self._clients.get(group)
        if client is None:
            client = self._clients[group] = self._new_client(group)
        return client

    def _new_client(self, group: str) -> VendorClient:
        settings = self._settings
        key = settings.api_key.get_secret_value()
        rate = settings.rate_limit_per_second * settings.rate_share
        # Bucket + one second of refill stays under the limit in any one-second window.
        burst = max(1.0, math.floor(rate / 2))
        base = str(settings.base_url).rstrip("/") if settings.base_url else BASE_URL
        return VendorClient(
            vendor="close",
            base_url=base,
            pacer=self._context.pacers.get(f"{credential_key(key)}:{group}", rate, burst),
            auth=httpx.BasicAuth(key, ""),
            headers={"accept": "application/json", "x-tz-offset": "0"},
            hints=close_hint,
            transport=self._context.transport,
            sleep=self._sleep,
            policy=self._policy,
        )

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _json(self, method: str, path: str, **kwargs: Any) -> JsonDict:
        """The JSON object of a 2xx answer; truncated bodies are asked for again."""
        for attempt in range(1, UNREADABLE_BODY_ATTEMPTS + 1):
            try:
                response = self._client(path).request(method, path, idempotent=True, **kwargs)
            except VendorError as error:
                raise _classified(error) from None
            try:
                body = response.json()
            except ValueError:
                log.warning("close.unreadable_body", path=path, attempt=attempt)
                if attempt < UNREADABLE_BODY_ATTEMPTS:
                    self._sleep(self._policy.backoff(attempt))
                continue
            if isinstance(body, dict):
                return body
            raise TransientError(f"close {path}: expected a JSON object, got {type(body).__name__}")
        raise TransientError(f"close {path}: unreadable response body {attempt} times in a row")

    def get(self, path: str, params: Mapping[str, str | int]) -> JsonDict:
        return self._json("GET", path, params=dict(params))

    # --- endpoints -----------------------------------------------------------------------------

    def me(self) -> JsonDict:
        return self.get(ME, {})

    def list_calls(
        self, params: Mapping[str, str | int], fields: str | None = None
    ) -> tuple[list[JsonDict], bool]:
        """One page of ``GET /activity/call/``: its records and ``has_more`` (``fields``: a
        ``_fields`` projection instead of the read path's)."""
        query = dict(params)
        chosen = fields or self.call_fields
        if chosen is not None:
            query["_fields"] = chosen
        body = self.get(CALLS, query)
        return _records(body, CALLS), bool(body.get("has_more"))

    def calls_by_id(self, ids: Sequence[str]) -> list[JsonDict]:
        """The current state of ``ids`` (at most ``page_size``) in one request."""
        if not ids:
            return []
        params: dict[str, str | int] = {"id__in": ",".join(ids), "_limit": len(ids)}
        if self.call_fields is not None:
            params["_fields"] = self.call_fields
        body = self._json(
            "POST",
            CALLS,
            headers={"x-http-method-override": "GET"},
            json={"_params": params},
        )
        return _records(body, CALLS)

    def events(self, params: Mapping[str, str | int]) -> tuple[list[JsonDict], str | None]:
        """One page of ``GET /event/``: its events (newest first) and ``cursor_next``."""
        body = self.get(EVENTS, params)
        cursor = body.get("cursor_next")
        return _records(body, EVENTS), cursor if isinstance(cursor, str) and cursor else None

    def outcomes(self) -> dict[str, str]:
        """Every live outcome's name by id (``GET /outcome/``, offset-paged, §1.7)."""
        return {
            str(o["id"]): str(o.get("name") or "")
            for o in self.outcome_records()
            if o.get("id") is not None
        }

    def outcome_records(self) -> list[JsonDict]:
        """Every live outcome (``GET /outcome/``, offset-paged, §1.7)."""
        return self.every(OUTCOMES)

    def users(self) -> list[JsonDict]:
        """Every user of the organisation (``GET /user/``, offset-paged)."""
        return self.every(USERS)

    def every(self, path: str) -> list[JsonDict]:
        """All records of a small offset-paged configuration list."""
        found: list[JsonDict] = []
        while True:
            body = self.get(path, {"_limit": 100, "_skip": len(found)})
            records = _records(body, path)
            found.extend(records)
            if not body.get("has_more") or not records:
                return found

    # --- writing -------------------------------------------------------------------------------

    def search(self, query: JsonDict) -> tuple[list[JsonDict], str | None]:
        """One page of Advanced Filtering (``POST /data/search/``, a read: safe to resend) and
        the cursor of the next page."""
        body = self._json("POST", SEARCH, json=query)
        cursor = body.get("cursor")
        return _records(body, SEARCH), cursor if isinstance(cursor, str) and cursor else None

    def write(self, method: str, path: str, body: JsonDict | None = None) -> JsonDict:
        """A create (``POST``, never resent), update (``PUT``) or ``DELETE``.

        A lost answer to a POST is ``AmbiguousWriteError`` (``VendorClient``), and so is a 2xx
        whose body cannot be read: the record exists but its id is unknown. PUT and DELETE are
        idempotent: ``VendorClient`` retries them and an unreadable answer is transient.
        """
        create = method == "POST"
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        try:
            response = self._client(path).request(method, path, idempotent=not create, **kwargs)
        except VendorError as error:
            raise _classified(error) from None
        try:
            parsed = response.json()
        except ValueError:
            if create:
                raise AmbiguousWriteError(f"close POST {path}: unreadable answer") from None
            raise TransientError(f"close {method} {path}: unreadable answer") from None
        if not isinstance(parsed, dict):
            raise TransientError(f"close {method} {path}: the answer is not a JSON object")
        return parsed


def _records(body: JsonDict, path: str) -> list[JsonDict]:
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise TransientError(f"close {path}: the answer has no `data` list")
    return data


def _classified(error: VendorError) -> VendorError:
    if error.status in (401, 403):
        return AuthError(error.vendor, error.status, error.message, error.body)
    found = _MAX_SKIP.search(error.body) if error.status == 400 else None
    if found is not None:
        return MaxSkipError(int(found.group(1)), error.body)
    return error
