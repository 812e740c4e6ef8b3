"""Configuration keys of an Amplemarket connection."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import ConnectionSettings


class AmplemarketSettings(ConnectionSettings):
    api_key: SecretStr
