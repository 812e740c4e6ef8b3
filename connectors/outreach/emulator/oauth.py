"""OAuth 2.0 the way Outreach runs it (doc §2.2), with every token kept in ``StateDB``.

- ``POST /oauth/token``, form-encoded, client authenticated by ``client_id``/``client_secret``
  in the body (HTTP Basic is accepted too, as Doorkeeper does), grants ``authorization_code``
  and ``refresh_token``. The answer carries ``access_token``, ``token_type``, ``expires_in``,
  ``refresh_token``, ``scope`` and ``created_at``; that last field is Doorkeeper's, the Rails
  OAuth server these responses match, so token errors use Doorkeeper's ``{"error",
  "error_description"}`` shape (inferred: the vendor does not document them).
- Access tokens live ``access_ttl`` seconds (2 h). An expired, unknown or force-expired
  (``expire_all``) token gets 401.
- Refresh tokens rotate: each exchange deletes the one spent and issues a new one, so a
  parallel worker spending the same token gets ``invalid_grant``. They also die after 14 days
  or once 100 newer ones were minted for the same user. Access tokens minted earlier stay
  valid until they expire (the documents only say the *refresh* token is invalidated).
- At most one new access token per user per ``mint_interval`` seconds; more is 429
  ``rateLimitExceeded`` ([derived] fact; on by default, 0 turns it off).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from connectors.emulation.base import ApiError
from connectors.emulation.clock import Clock
from connectors.emulation.http import EmuRequest, EmuResponse
from connectors.emulation.limits import SlidingWindow
from connectors.emulation.state import StateDB
from connectors.outreach.emulator.jsonapi import epoch

DEFAULT_SCOPE = (
    "calls.all callDispositions.read callPurposes.read phoneNumbers.read prospects.read users.read"
)

_INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
_INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
_INVALID_REQUEST = (
    "The request is missing a required parameter, includes an unsupported parameter value, "
    "or is otherwise malformed."
)
_UNSUPPORTED_GRANT = "The authorization grant type is not supported by the authorization server."


def oauth_error(status: int, code: str, description: str) -> ApiError:
    return ApiError(status, code, description, extra={"oauth": True})


@dataclass(frozen=True)
class TokenRules:
    access_ttl: float = 7200.0
    refresh_ttl: float = 14 * 86400.0
    refresh_keep: int = 100  # a refresh token dies once this many newer ones exist
    mint_interval: float = 60.0  # one access token per user per this many seconds; 0 = off
    code_ttl: float = 600.0


@dataclass(frozen=True)
class Grant:
    """Who an access token acts for, and what it may do."""

    user: int
    scope: frozenset[str]

    def allows(self, required: str) -> bool:
        """``calls.read`` is granted by itself or by ``calls.all``; levels do not add up
        (``calls.write`` does not grant read)."""
        resource = required.partition(".")[0]
        return required in self.scope or f"{resource}.all" in self.scope


class TokenStore:
    def __init__(
        self, state: StateDB, clock: Clock, rules: TokenRules, client_id: str, client_secret: str
    ) -> None:
        self.state = state
        self.clock = clock
        self.rules = rules
        self.client = (client_id, client_secret)
        self.access = state.collection("outreach.oauth.accessTokens")
        self.refresh = state.collection("outreach.oauth.refreshTokens")
        self.codes = state.collection("outreach.oauth.codes")
        self._mints = (
            SlidingWindow(1, rules.mint_interval, clock) if rules.mint_interval > 0 else None
        )

    # --- checks on API requests -----------------------------------------------------------

    def grant_for(self, token: str) -> Grant | None:
        """The grant behind a live access token; None when unknown, expired or revoked."""
        doc = self.access.get(token)
        if doc is None or doc["generation"] != self._generation():
            return None
        if self._now() >= doc["expiresAt"]:
            return None
        return Grant(int(doc["user"]), frozenset(doc["scope"].split()))

    def expire_all(self) -> None:
        """Every access token issued so far stops working (the EXPIRE_TOKEN fault)."""
        with self.state.lock:
            self.state.set_meta("outreach.oauth.generation", str(self._generation() + 1))

    # --- helpers that act as the user's browser ---------------------------------------------

    def install_refresh_token(self, token: str, user: int, scope: str, *, expires: bool) -> None:
        with self.state.lock:
            self.refresh.put(token, self._refresh_doc(user, scope, expires=expires))

    def issue_code(self, user: int, scope: str, redirect_uri: str) -> str:
        code = secrets.token_urlsafe(24)
        expires = self._now() + self.rules.code_ttl
        self.codes.put(
            code, {"user": user, "scope": scope, "redirectUri": redirect_uri, "expiresAt": expires}
        )
        return code

    # --- POST /oauth/token ------------------------------------------------------------------

    def token_endpoint(self, request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        form = _form(request)
        self._authenticate_client(request, form)
        grant_type = form.get("grant_type")
        with self.state.transaction():
            if grant_type == "refresh_token":
                user, scope = self._spend_refresh_token(_required(form, "refresh_token"))
            elif grant_type == "authorization_code":
                user, scope = self._spend_code(
                    _required(form, "code"), _required(form, "redirect_uri")
                )
            elif grant_type is None:
                raise oauth_error(400, "invalid_request", _INVALID_REQUEST)
            else:
                raise oauth_error(400, "unsupported_grant_type", _UNSUPPORTED_GRANT)
            body = self._mint(user, scope)
        headers = {"cache-control": "no-store", "pragma": "no-cache"}
        return EmuResponse.json(200, body, headers, "application/json; charset=utf-8")

    def _authenticate_client(self, request: EmuRequest, form: Mapping[str, str]) -> None:
        given = (form.get("client_id"), form.get("client_secret"))
        basic = _basic_credentials(request.header("authorization"))
        if given != self.client and basic != self.client:
            raise oauth_error(401, "invalid_client", _INVALID_CLIENT)

    def _spend_refresh_token(self, token: str) -> tuple[int, str]:
        doc = self.refresh.get(token)
        if doc is None or not self._refresh_alive(doc):
            raise oauth_error(400, "invalid_grant", _INVALID_GRANT)
        self._throttle_mint(int(doc["user"]))
        self.refresh.delete(token)  # rotation: the token just spent never works again
        return int(doc["user"]), str(doc["scope"])

    def _spend_code(self, code: str, redirect_uri: str) -> tuple[int, str]:
        doc = self.codes.get(code)
        if doc is None or doc["redirectUri"] != redirect_uri or self._now() >= doc["expiresAt"]:
            raise oauth_error(400, "invalid_grant", _INVALID_GRANT)
        self._throttle_mint(int(doc["user"]))
        self.codes.delete(code)
        return int(doc["user"]), str(doc["scope"])

    def _refresh_alive(self, doc: Mapping[str, Any]) -> bool:
        if doc["expires"] and self._now() >= doc["issuedAt"] + self.rules.refresh_ttl:
            return False
        newer = self._mint_count(int(doc["user"])) - int(doc["mint"])
        return newer < self.rules.refresh_keep

    def _throttle_mint(self, user: int) -> None:
        if self._mints is None or self._mints.hit(f"user:{user}"):
            return
        wait = self._mints.reset_in_whole_seconds(f"user:{user}")
        at = self.clock.now() + timedelta(seconds=wait)
        detail = (
            "You have exceeded your permitted rate limit of 1 new access token per "
            f"{self.rules.mint_interval:g} seconds; please try again at {at:%Y-%m-%dT%H:%M:%S}."
        )
        raise ApiError(429, "rateLimitExceeded", detail, {"x-ratelimit-reset": str(epoch(at))})

    def _mint(self, user: int, scope: str) -> dict[str, Any]:
        now = self.clock.now()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access.put(access, {
            "user": user, "scope": scope, "generation": self._generation(),
            "expiresAt": now.timestamp() + self.rules.access_ttl,
        })  # fmt: skip
        self.state.set_meta(f"outreach.oauth.mints.{user}", str(self._mint_count(user) + 1))
        self.refresh.put(refresh, self._refresh_doc(user, scope, expires=True))
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.rules.access_ttl),
            "refresh_token": refresh,
            "scope": scope,
            "created_at": epoch(now),
        }

    def _refresh_doc(self, user: int, scope: str, *, expires: bool) -> dict[str, Any]:
        return {"user": user, "scope": scope, "issuedAt": self._now(), "expires": expires,
                "mint": self._mint_count(user)}  # fmt: skip

    def _mint_count(self, user: int) -> int:
        return int(self.state.get_meta(f"outreach.oauth.mints.{user}") or 0)

    def _generation(self) -> int:
        return int(self.state.get_meta("outreach.oauth.generation") or 0)

    def _now(self) -> float:
        now: datetime = self.clock.now()
        return now.timestamp()


def _form(request: EmuRequest) -> dict[str, str]:
    """The token request body; the endpoint only takes form encoding (RFC 6749 §4.1.3)."""
    media_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise oauth_error(400, "invalid_request", _INVALID_REQUEST)
    try:
        return dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise oauth_error(400, "invalid_request", _INVALID_REQUEST) from None


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise oauth_error(400, "invalid_request", _INVALID_REQUEST)
    return value


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
