"""Configuration keys of an Amplemarket connection.

Besides the API key, the read tunables of the cursor strategy (``connectors.amplemarket.cursor``
explains how each one is used). Intervals accept ``30s``, ``5m``, ``2h``, ``1d`` or seconds.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import ConnectionSettings, Interval
from syncer.model import Outcome

DOCUMENTED_REQUESTS_PER_MINUTE = 500  # vendor-apis §1.12: per consumer, across all endpoints
DOCUMENTED_RECORDINGS_PER_HOUR = 50  # vendor-apis §1.10: GET /calls/{id}/recording


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

    # --- writing (connectors.amplemarket.writer) -----------------------------------------

    dispositions: dict[Outcome, str] = Field(default_factory=dict)
    """The account disposition (by its name, as in the dashboard) to log per canonical
    outcome, e.g. ``{connected: Interested, voicemail_left: Left voicemail}``. Outcomes not
    listed are logged without a disposition. A name the account does not have is skipped
    with a warning."""

    allow_completing_dispositions: bool = False
    """A disposition whose action is ``complete`` also completes the task and the contact's
    sequence lead (the lead leaves the sequence, vendor-apis §1.9). Such a disposition is only
    sent when this is true; otherwise the call is logged without one (and a warning)."""

    marker_in_transcription: bool = True
    """Append callsync's reference line (``[callsync:<call uid>]``) to the logged call's
    ``transcription``, the only free-text field ``POST /calls`` takes: it lets a create whose
    answer was lost be found again exactly. Off, the look-up matches on the logged fields
    alone and refuses to guess between look-alike calls (see ``writer``)."""

    recordings_per_hour: int = Field(default=40, ge=1, lt=DOCUMENTED_RECORDINGS_PER_HOUR)
    """Pace of recording downloads (the vendor allows 50 per hour). The pacer's burst is the
    rest of the hour's allowance, so no hour ever sees more than 50."""

    @field_validator("dispositions")
    @classmethod
    def _named(cls, value: dict[Outcome, str]) -> dict[Outcome, str]:
        blank = sorted(outcome.value for outcome, name in value.items() if not name.strip())
        if blank:
            raise ValueError(f"disposition names must not be blank: {blank}")
        return value

    @field_validator("lookback", "sweep_interval")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @property
    def requests_per_second(self) -> float:
        return DOCUMENTED_REQUESTS_PER_MINUTE * self.rate_share / 60

    @property
    def recording_burst(self) -> int:
        return DOCUMENTED_RECORDINGS_PER_HOUR - self.recordings_per_hour

    @model_validator(mode="after")
    def _under_the_limit(self) -> AmplemarketSettings:
        ceiling = self.rate_share * DOCUMENTED_REQUESTS_PER_MINUTE + self.burst
        if ceiling > DOCUMENTED_REQUESTS_PER_MINUTE:
            raise ValueError(
                f"rate_share x 500 + burst = {ceiling:.0f} requests in a minute; keep it <= 500"
            )
        return self
