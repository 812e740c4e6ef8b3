"""Configuration keys of a Close connection."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import ConnectionSettings


class CloseSettings(ConnectionSettings):
    api_key: SecretStr
