"""Configuration keys of an Amplemarket connection.

Besides the API key, the read tunables of the cursor strategy (``connectors.amplemarket.cursor``
explains how each one is used). Intervals accept ``30s``, ``5m``, ``2h``, ``1d`` or seconds.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import ConnectionSettings, Interval

DOCUMENTED_REQUESTS_PER_MINUTE = 500  # vendor-apis §1.12: per consumer, across all endpoints


class AmplemarketSettings(ConnectionSettings):
    api_key: SecretStr

    lookback: Interval = timedelta(hours=2)
    """How far before the previous run's start each incremental window reaches back: covers
    calls that become visible after their ``start_date`` (a dialer call listed once it ends)
    and edits made shortly after a call (disposition, notes, transcript)."""

    sweep_interval: Interval = timedelta(days=1)
    """How often a pull walks the whole history instead of a window: the only way to see
    edits older than the look-back and deleted calls (the API has no ``updated_at`` and no
    deletion feed)."""

    rate_share: float = Field(default=0.8, gt=0, le=1)
    """Share of the documented 500 requests/minute this connection paces itself to (other
    integrations of the same account spend the rest)."""

    burst: int = Field(default=10, ge=1, le=100)
    """Requests that may go back to back before pacing starts. ``burst + 60 x rate`` is the
    most callsync sends in any minute, so ``rate_share x 500 + burst`` must stay <= 500."""

    page_size: int | None = Field(default=None, ge=1)
    """``page[size]`` of ``GET /calls``; None sends none (the server default, 20). The maximum
    is undocumented and a larger size risks a 400: raise it only once Amplemarket support
    confirmed the limit for the account."""

    @field_validator("lookback", "sweep_interval")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @property
    def requests_per_second(self) -> float:
        return DOCUMENTED_REQUESTS_PER_MINUTE * self.rate_share / 60

    @model_validator(mode="after")
    def _under_the_limit(self) -> AmplemarketSettings:
        ceiling = self.rate_share * DOCUMENTED_REQUESTS_PER_MINUTE + self.burst
        if ceiling > DOCUMENTED_REQUESTS_PER_MINUTE:
            raise ValueError(
                f"rate_share x 500 + burst = {ceiling:.0f} requests in a minute; keep it <= 500"
            )
        return self
