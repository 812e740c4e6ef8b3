"""Configuration keys of a Pipedrive connection."""

from __future__ import annotations

from pydantic import Field, SecretStr

from connectors.base import ConnectionSettings


class PipedriveSettings(ConnectionSettings):
    api_token: SecretStr
    company_domain: str | None = None
    # The daily token budget is shared by every integration of the company: never spend more
    # than this share of it.
    daily_budget_share: float = Field(default=0.5, gt=0, le=1)
