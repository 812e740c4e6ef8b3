"""HTTP side of the Amplemarket connector: auth, pacing, pagination links, errors.

Vendor facts (shared/vendor-apis/amplemarket-outreach.md, cited as §1.x):
- origin ``https://api.amplemarket.com`` with no ``/v1`` prefix (§1.1); ``Authorization:
  Bearer <api key>`` (§1.2); ``GET /account-info`` is the cheapest probe (§1.2);
- ``GET /calls`` answers ``{"calls": [...], "_links": {"self", "next"?}}``; ``next`` is a
  *relative* href that carries the filters forward and is absent on the last page (§1.4, §1.5);
- ``GET /calls/dispositions`` answers ``{"dispositions": [...]}`` (§1.9);
- ``POST /calls`` logs a call (201 + the call, §1.7); ``GET /users`` and ``GET /tasks``
  (``user_id`` required, §1.13) list what a logged call hangs on;
- errors are ``{"_errors": [{code, title, detail, source?}], "object": "error"}`` (§1.11);
- 500 requests/minute per key, 429 past it, and **no rate-limit headers** (§1.12).

Keep this module free of canonical types: it returns the vendor's dicts.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass

import httpx
import structlog
from pydantic import SecretStr

from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import ConnectorContext, JsonDict
from syncer.errors import AmbiguousWriteError, AuthError, TransientError, VendorError
from syncer.http import RateLimitHint, VendorClient
from syncer.http.ratelimit import draft_hint, first_int

log = structlog.get_logger("callsync.amplemarket")

VENDOR = "amplemarket"
ORIGIN = "https://api.amplemarket.com"
CALLS_PATH = "/calls"
DISPOSITIONS_PATH = "/calls/dispositions"
PROBE_PATH = "/account-info"
USERS_PATH = "/users"
TASKS_PATH = "/tasks"
# Pages followed by a write-path look-up at most: a loop guard (look-ups are narrow filters).
LOOKUP_PAGES = 50
# A 200 whose body is cut short (a proxy or the vendor dropped the stream) is re-asked this
# many times before the run ends as transient; the shared client only judges status codes.
BODY_ATTEMPTS = 3


class UnavailableError(TransientError):
    """The vendor failed (5xx) or kept refusing (429) past the retries: nothing is wrong with
    our data; the run ends and the next one resumes from the last stored page."""


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer`` from a SecretStr, so no repr or log ever shows the key."""

    def __init__(self, api_key: SecretStr) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        yield request


def base_url_of(settings: AmplemarketSettings) -> str:
    return str(settings.base_url).rstrip("/") if settings.base_url else ORIGIN


def credential_key(api_key: SecretStr) -> str:
    """The pacer key of a credential: the kind plus a fingerprint, never the key itself."""
    digest = hashlib.sha256(api_key.get_secret_value().encode()).hexdigest()
    return f"{VENDOR}:{digest[:16]}"


def rate_limit_hint(headers: httpx.Headers) -> RateLimitHint | None:
    """Amplemarket documents no rate-limit headers (§1.12), so normally None.

    Defensive, unconfirmed: should the API start sending the IETF draft ``RateLimit-*`` fields
    or the common ``X-RateLimit-*`` ones, the pacer learns from them instead of ignoring them.
    """
    hint = draft_hint(headers)
    if hint is not None:
        return hint
    remaining = first_int(headers.get("x-ratelimit-remaining"))
    reset = first_int(headers.get("x-ratelimit-reset"))
    if remaining is None:
        return None
    return RateLimitHint(
        remaining,
        None if reset is None else float(reset),
        first_int(headers.get("x-ratelimit-limit")),
    )


def error_detail(body: str) -> str:
    """The first ``_errors`` entry as ``code: detail``; the raw excerpt when it is not JSON
    (the 502/503/504 pages of the load balancer are HTML)."""
    try:
        errors = json.loads(body).get("_errors") or []
        first = errors[0]
        return f"{first.get('code', '?')}: {first.get('detail') or first.get('title', '')}"
    except (ValueError, AttributeError, IndexError, TypeError, KeyError):
        return body.strip()[:200]


@dataclass(frozen=True)
class CallsPage:
    records: list[JsonDict]
    next_href: str | None


def relative(href: str) -> str:
    """``href`` as a path + query under the configured base URL.

    The docs say links are relative (§1.5); an absolute one is cut to its path and query so
    the API key is only ever sent to the configured origin.
    """
    url = httpx.URL(href)
    if not url.is_relative_url:
        query = url.query.decode()
        return url.path + (f"?{query}" if query else "")
    return href


class AmplemarketClient:
    """One account's HTTP client (one per connector instance)."""

    def __init__(self, http: VendorClient) -> None:
        self.http = http

    @classmethod
    def for_context(
        cls, context: ConnectorContext, settings: AmplemarketSettings
    ) -> AmplemarketClient:
        base_url = base_url_of(settings)
        pacer = context.pacers.get(
            credential_key(settings.api_key), settings.requests_per_second, settings.burst
        )
        http = VendorClient(
            vendor=VENDOR,
            base_url=base_url,
            pacer=pacer,
            auth=BearerAuth(settings.api_key),
            headers={"Accept": "application/json"},
            hints=rate_limit_hint,
            transport=context.transport,
            sleep=context.sleep or time.sleep,
        )
        return cls(http)

    def close(self) -> None:
        self.http.close()

    def list_calls(self, href: str | None, params: Mapping[str, str] | None = None) -> CallsPage:
        """The first page (``href`` None, with ``params``) or the page at a ``next`` href."""
        url = CALLS_PATH if href is None else relative(href)
        body = self.get_json(url, params if href is None else None)
        calls = body.get("calls")
        if not isinstance(calls, list):
            raise VendorError(VENDOR, 200, f"GET {CALLS_PATH}: no `calls` list in the body")
        return CallsPage(calls, next_href(body))

    def dispositions(self) -> list[JsonDict]:
        """Every disposition of the account (one request; follows ``next`` should it appear)."""
        found: list[JsonDict] = []
        url: str | None = DISPOSITIONS_PATH
        asked: set[str] = set()  # a handful of pages at most: a loop guard, not a history
        while url is not None and url not in asked:
            asked.add(url)
            body = self.get_json(url)
            items = body.get("dispositions")
            if not isinstance(items, list):
                raise VendorError(VENDOR, 200, f"GET {DISPOSITIONS_PATH}: no `dispositions`")
            found += [item for item in items if isinstance(item, dict)]
            following = next_href(body)
            url = None if following is None else relative(following)
        return found

    def listing(
        self, path: str, key: str, params: Mapping[str, str], *, pages: int = LOOKUP_PAGES
    ) -> Iterator[list[JsonDict]]:
        """The ``key`` items of each page of ``GET path?params``, following ``next``."""
        url: str | None = path
        first = True
        for _ in range(pages):
            if url is None:
                return
            body = self.get_json(url, params if first else None)
            items = body.get(key)
            if not isinstance(items, list):
                raise VendorError(VENDOR, 200, f"GET {path}: no `{key}` list in the body")
            yield [item for item in items if isinstance(item, dict)]
            following = next_href(body)
            url, first = (None if following is None else relative(following)), False

    def post_call(self, body: JsonDict) -> JsonDict:
        """``POST /calls`` once (never resent, §1.7 has no idempotency key).

        A 5xx or an unreadable 2xx body may hide a committed call, so both are ambiguous, like
        a lost answer; a 429 was refused before processing (the shared client retries it).
        """
        try:
            response = self.http.request("POST", CALLS_PATH, json=body)
        except VendorError as error:
            if error.status >= 500:
                raise AmbiguousWriteError(f"{VENDOR} POST {CALLS_PATH}: {error.status}") from error
            raise _classified(error) from error
        except httpx.TransportError as error:  # ConnectError after retries: nothing was sent
            raise UnavailableError(f"{VENDOR} POST {CALLS_PATH}: {type(error).__name__}") from error
        try:
            created = response.json()
        except ValueError:
            created = None
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise AmbiguousWriteError(f"{VENDOR} POST {CALLS_PATH}: unreadable 201 body")
        return created

    def account_info(self) -> JsonDict:
        return self.get_json(PROBE_PATH)

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> JsonDict:
        """GET ``url`` and decode its JSON object, translating the vendor's failures."""
        for attempt in range(1, BODY_ATTEMPTS + 1):
            response = self._get(url, params)
            try:
                body = response.json()
            except ValueError:
                log.warning("amplemarket.truncated_body", path=response.url.path, attempt=attempt)
                continue
            if not isinstance(body, dict):
                raise VendorError(VENDOR, response.status_code, "the body is not a JSON object")
            return body
        raise UnavailableError(
            f"{VENDOR} GET {httpx.URL(url).path}: unreadable JSON {BODY_ATTEMPTS}x"
        )

    def _get(self, url: str, params: Mapping[str, str] | None) -> httpx.Response:
        try:
            return self.http.request("GET", url, params=dict(params) if params else None)
        except VendorError as error:
            raise _classified(error) from error
        except httpx.TransportError as error:
            # The shared client already retried the connection: the network is down for now.
            path = httpx.URL(url).path
            raise UnavailableError(f"{VENDOR} GET {path}: {type(error).__name__}") from error


def next_href(body: JsonDict) -> str | None:
    """``_links.next.href``: present only when more items exist (§1.5)."""
    links = body.get("_links")
    link = links.get("next") if isinstance(links, dict) else None
    href = link.get("href") if isinstance(link, dict) else None
    if href is not None and not isinstance(href, str):
        raise VendorError(VENDOR, 200, "`_links.next.href` is not a string")
    return href or None


def _classified(error: VendorError) -> Exception:
    detail = error_detail(error.body)
    if error.status in (401, 403):
        return AuthError(VENDOR, error.status, f"API key rejected ({detail})", error.body)
    if error.status >= 500 or error.status == 429:
        return UnavailableError(f"{VENDOR} answered {error.status}: {detail}")
    return VendorError(VENDOR, error.status, detail, error.body)
