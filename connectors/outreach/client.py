"""HTTP to Outreach: OAuth with rotating refresh tokens, JSON:API lists, rate-limit hints.

Facts relied on (shared/vendor-apis/amplemarket-outreach.md §2, "doc §x" below):

- Every request declares ``Content-Type: application/vnd.api+json``, GETs included, or gets
  415 (doc §2.1).
- ``POST /oauth/token`` (form-encoded ``grant_type=refresh_token``, ``refresh_token``,
  ``client_id``, ``client_secret``, ``redirect_uri``) answers ``access_token``, ``expires_in``
  (about 2 h) and a *new* ``refresh_token``; the spent one dies (doc §2.2). The exchange runs
  inside :meth:`TokenStore.rotate`, which persists the new token before it is used, so a
  refresh token is never spent twice. Expired access token -> 401 (doc §2.11):
  :class:`RotatingTokenAuth` refreshes before expiry and retries once on 401.
- Lists follow ``links.next`` verbatim (it embeds every parameter, doc §2.3), but only its
  path and query are sent, to the configured origin: a link naming another host never gets
  the bearer token (doc §2.13 #3).
- ``X-RateLimit-Remaining`` may hold "9999, 19988": the first number is the user's hourly
  figure; ``X-RateLimit-Reset`` is Unix epoch seconds (doc §2.10, [practitioner]). Unconfirmed,
  so a Reset small enough to be a delta is read as seconds from now.
- 10,000 requests per hour *per user*, shared with the user's other integrations (doc §2.10,
  §2.13 #9): the pacer runs at ``rate_share`` of it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.base import ConnectorContext, JsonDict
from connectors.outreach.settings import OutreachSettings
from syncer.errors import (
    AmbiguousWriteError,
    AuthError,
    RefreshTokenRefused,
    TransientError,
    VendorError,
)
from syncer.http import RateLimitHint, VendorClient
from syncer.http.client import Circuit
from syncer.http.oauth import IssuedToken, RotatingTokenAuth
from syncer.http.ratelimit import HintParser, first_int
from syncer.http.retry import RetryPolicy

ORIGIN = "https://api.outreach.io"
API = "/api/v2"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
MEDIA_TYPE = "application/vnd.api+json"
HOURLY_LIMIT = 10_000  # requests per user per hour (doc §2.10)
# Requests that may go at once after a quiet spell. The limit is counted per hour (doc §2.10),
# so a burst of 50 on top of an hour at the paced rate still fits the share; the vendor's
# X-RateLimit-Remaining hints slow callsync further when other tools spend the same user.
BURST = 50
DEFAULT_TOKEN_SECONDS = 7200  # doc §2.2, used when a token answer omits expires_in
MALFORMED_ATTEMPTS = 3  # a 200 whose body is not a JSON:API document is asked for again
_EPOCH_FLOOR = 1_000_000_000  # a Reset below this is a delta in seconds, not an epoch


class OutreachUnavailableError(TransientError):
    """Outreach answered 5xx after retries, an unreadable body, or nothing at all."""


@dataclass(frozen=True)
class ListPage:
    records: list[JsonDict]
    next_link: str | None  # links.next exactly as Outreach sent it


def rate_limit_hint(clock: Callable[[], datetime]) -> HintParser:
    """Outreach's ``X-RateLimit-*`` headers as a :class:`RateLimitHint`."""

    def parse(headers: httpx.Headers) -> RateLimitHint | None:
        remaining = first_int(headers.get("x-ratelimit-remaining"))
        reset = first_int(headers.get("x-ratelimit-reset"))
        if remaining is None and reset is None:
            return None
        reset_after: float | None = None
        if reset is not None:
            delta = reset if reset < _EPOCH_FLOOR else reset - clock().timestamp()
            reset_after = max(0.0, float(delta))
        return RateLimitHint(remaining, reset_after, first_int(headers.get("x-ratelimit-limit")))

    return parse


def credential_key(settings: OutreachSettings) -> str:
    """The pacer key: the app and its authorisation, fingerprinted (never the secret)."""
    secret = f"{settings.client_id}\0{settings.refresh_token.get_secret_value()}"
    return "outreach:" + hashlib.sha256(secret.encode()).hexdigest()[:24]


def format_time(moment: datetime) -> str:
    """A filter value the way Outreach writes timestamps: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class OutreachClient:
    """One Outreach account: an authenticated JSON:API client and its token exchange."""

    def __init__(self, context: ConnectorContext, settings: OutreachSettings) -> None:
        if context.tokens is None:
            raise ValueError("an Outreach connection needs an OAuth token store")
        self._settings = settings
        self._clock = context.clock
        self._sleep = context.sleep or time.sleep
        self._policy = RetryPolicy()
        base = str(settings.base_url or ORIGIN).rstrip("/")
        # A burst on top of a full hour at ``rate`` still fits the share of the hourly limit.
        rate = (HOURLY_LIMIT * settings.rate_share - BURST) / 3600
        pacer = context.pacers.get(credential_key(settings), rate, BURST)
        common: dict[str, Any] = {
            "vendor": "outreach",
            "base_url": base,
            "pacer": pacer,
            "hints": rate_limit_hint(context.clock),
            "transport": context.transport,
            "sleep": self._sleep,
            "policy": self._policy,
            # The token exchange and the requests it serves give up on Outreach together.
            "circuit": Circuit(),
        }
        self._token_http = VendorClient(**common)
        auth = RotatingTokenAuth(
            context.tokens, self._spend, margin=settings.token_refresh_margin, clock=self._clock
        )
        headers = {"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE}
        self._http = VendorClient(**common, auth=auth, headers=headers)

    def close(self) -> None:
        self._http.close()
        self._token_http.close()

    # --- OAuth ------------------------------------------------------------------------------

    def _spend(self, refresh_token: str) -> IssuedToken:
        """Exchange ``refresh_token`` (called by the token store, under its lock)."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._settings.client_id,
            "client_secret": self._settings.client_secret.get_secret_value(),
        }
        if self._settings.redirect_uri:
            form["redirect_uri"] = self._settings.redirect_uri
        try:
            response = self._token_http.request("POST", TOKEN_PATH, data=form)
        except AmbiguousWriteError as error:
            # The token store keeps the refresh token it sent and retries on a later run.
            raise OutreachUnavailableError(f"outreach token refresh: {error}") from None
        except VendorError as error:
            if error.status in (400, 401) and _oauth_error(error.body) == "invalid_grant":
                raise RefreshTokenRefused("outreach", error.status) from None
            if error.status in (400, 401):  # invalid_client and the like: wrong app credentials
                raise AuthError("outreach", error.status, error.message) from None
            raise
        body = response.json()
        seconds = float(body.get("expires_in") or DEFAULT_TOKEN_SECONDS)
        return IssuedToken(
            body["access_token"], body["refresh_token"], self._clock() + timedelta(seconds=seconds)
        )

    # --- JSON:API ---------------------------------------------------------------------------

    def first_page(self, path: str, params: Sequence[tuple[str, str]]) -> ListPage:
        return _list_page(self.get_json(f"{API}/{path}", params))

    def next_page(self, path: str, link: str) -> ListPage:
        """Follow ``links.next`` verbatim, pinned to the configured origin."""
        return _list_page(self.get_json(pinned(link, f"{API}/{path}")))

    def iter_all(self, path: str, params: Sequence[tuple[str, str]]) -> Iterator[JsonDict]:
        """Every record of a small collection (dispositions, purposes), page by page."""
        page = self.first_page(path, params)
        yield from page.records
        while page.next_link is not None:
            page = self.next_page(path, page.next_link)
            yield from page.records

    def get_json(self, url: str, params: Sequence[tuple[str, str]] = ()) -> JsonDict:
        """A JSON:API document; a 200 with a truncated body is asked for again."""
        for attempt in range(1, MALFORMED_ATTEMPTS + 1):
            response = self._get(url, params)
            try:
                body = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = None
            if isinstance(body, dict) and isinstance(body.get("data"), list | dict):
                return body
            if attempt < MALFORMED_ATTEMPTS:
                self._sleep(self._policy.backoff(attempt))
        raise OutreachUnavailableError(f"outreach GET {httpx.URL(url).path}: unreadable body")

    def _get(self, url: str, params: Sequence[tuple[str, str]]) -> httpx.Response:
        try:
            return self._http.request("GET", url, params=list(params) or None)
        except AuthError:
            raise
        except VendorError as error:
            if error.status in (401, 403):  # still refused after a refresh: wrong grant/scope
                raise AuthError("outreach", error.status, error.message, error.body) from None
            if error.status >= 500:
                raise OutreachUnavailableError(str(error)) from None
            raise
        except httpx.TransportError as error:
            # Retries are spent; the run ends cleanly and resumes from its checkpoint.
            raise OutreachUnavailableError(f"outreach GET: {type(error).__name__}") from None

    # --- writes -----------------------------------------------------------------------------

    def create(self, path: str, document: JsonDict) -> JsonDict:
        """POST ``document`` once (never resent) and return the created resource object.

        A 5xx, a lost answer or an unreadable 201 leaves the outcome unknown: the record may
        exist, so it is an :class:`AmbiguousWriteError` (the engine looks for its marker).
        """
        url = f"{API}/{path}"
        try:
            response = self._http.request("POST", url, content=json.dumps(document).encode())
        except AuthError:
            raise
        except VendorError as error:
            if error.status in (401, 403):
                raise AuthError("outreach", error.status, error.message, error.body) from None
            raise
        except httpx.ConnectError as error:  # nothing reached Outreach, even after retries
            raise OutreachUnavailableError(f"outreach POST: {type(error).__name__}") from None
        except httpx.TransportError as error:  # broke while the request was on its way
            raise AmbiguousWriteError(f"outreach POST {url}: {type(error).__name__}") from None
        try:
            data = response.json()["data"]
            ident = data["id"]
        except (ValueError, KeyError, TypeError):
            raise AmbiguousWriteError(f"outreach POST {url}: unreadable answer") from None
        if ident is None:
            raise AmbiguousWriteError(f"outreach POST {url}: the answer names no id")
        return dict(data)

    def delete(self, path: str) -> bool:
        """DELETE ``path`` (retried: deleting twice is harmless); False when already gone."""
        try:
            self._http.request("DELETE", f"{API}/{path}")
        except AuthError:
            raise
        except VendorError as error:
            if error.status == 404:
                return False
            if error.status in (401, 403):
                raise AuthError("outreach", error.status, error.message, error.body) from None
            if error.status >= 500:
                raise OutreachUnavailableError(str(error)) from None
            raise
        except httpx.TransportError as error:
            raise OutreachUnavailableError(f"outreach DELETE: {type(error).__name__}") from None
        return True


def _oauth_error(body: str) -> str | None:
    """The ``error`` code of an OAuth 2.0 error answer (RFC 6749 §5.2), if it is one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    code = parsed.get("error") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


def pinned(link: str, expected_path: str) -> str:
    """``link``'s path and query (sent to the configured origin); refuses other paths."""
    url = httpx.URL(link)
    if url.path != expected_path:
        raise VendorError("outreach", 200, f"links.next leaves {expected_path}: {url.path}")
    return url.raw_path.decode("ascii")


def _list_page(body: JsonDict) -> ListPage:
    data = body["data"]
    if not isinstance(data, list):
        raise OutreachUnavailableError("outreach list answer without a data array")
    links = body.get("links")
    link = links.get("next") if isinstance(links, dict) else None
    return ListPage(data, link if isinstance(link, str) and link else None)
