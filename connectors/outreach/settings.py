"""Configuration keys of an Outreach connection (OAuth 2.0 authorization-code app)."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import ConnectionSettings


class OutreachSettings(ConnectionSettings):
    client_id: str
    client_secret: SecretStr
    # Only the first refresh token comes from the config: Outreach rotates it on every use, and
    # callsync keeps the newest one in its database (the OAuth token store).
    refresh_token: SecretStr
    redirect_uri: str | None = None
