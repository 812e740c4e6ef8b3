"""OAuth 2.0 with rotating refresh tokens (Outreach): refresh before expiry, retry once on 401.

Each refresh spends the stored refresh token and gets a new one; the old one stops working.
So the spend happens inside :meth:`TokenStore.rotate`, which holds a lock across the spend and
persists the new token before anyone uses the new access token. Two workers never spend the
same refresh token, and a crash after the vendor answered loses at most that one exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    refresh_token: str
    expires_at: datetime


Spend = Callable[[str], IssuedToken]
"""Exchange a refresh token at the vendor's token endpoint (the connector knows how)."""


class TokenStore(Protocol):
    def current(self) -> IssuedToken | None:
        """The newest stored token, if an access token was ever issued."""

    def rotate(self, spend: Spend, stale_access_token: str | None) -> IssuedToken:
        """Under a lock: if the stored access token is not ``stale_access_token`` and still
        valid, return it (another worker refreshed); otherwise spend the stored refresh token,
        persist the result, and return it."""


class RotatingTokenAuth(httpx.Auth):
    def __init__(
        self,
        store: TokenStore,
        spend: Spend,
        *,
        margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._spend = spend
        self._margin = margin
        self._clock = clock
        # The token last read or issued: used while fresh, so a request costs no read of the
        # store (another worker's refresh does not revoke it; a 401 reads the store again).
        self._held: IssuedToken | None = None

    def _fresh(self, token: IssuedToken | None) -> bool:
        return token is not None and token.expires_at - self._margin > self._clock()

    def token(self) -> IssuedToken:
        if self._held is not None and self._fresh(self._held):
            return self._held
        current = self._store.current()
        if current is None or not self._fresh(current):
            current = self._store.rotate(self._spend, current.access_token if current else None)
        self._held = current
        return current

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code == 401:
            # The vendor forgot the token early (revoked, clock skew): refresh once, then retry.
            token = self._held = self._store.rotate(self._spend, token.access_token)
            request.headers["Authorization"] = f"Bearer {token.access_token}"
            yield request
