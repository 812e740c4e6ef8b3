"""Configuration keys of an Outreach connection (OAuth 2.0 authorization-code app).

Every read tunable has a default, so a connection needs only its OAuth credentials. Durations
accept seconds (``120``) or ISO 8601 (``PT2M``).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import AwareDatetime, Field, SecretStr

from connectors.base import ConnectionSettings, Interval
from syncer.model import Outcome

MAX_PAGE_SIZE = 1000  # doc §2.3: the largest page[size] Outreach accepts


class OutreachSettings(ConnectionSettings):
    client_id: str
    client_secret: SecretStr
    # Only the first refresh token comes from the config: Outreach rotates it on every use, and
    # callsync keeps the newest one in its database (the OAuth token store).
    refresh_token: SecretStr
    redirect_uri: str | None = None

    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    """Calls per list request; the documented maximum makes a pull cheapest."""
    settle_delay: Interval = Field(default=timedelta(minutes=2), ge=timedelta(0))
    """A window ends this long before now: writes still in flight (and clock skew between
    callsync and Outreach) get this long to become visible before the cursor passes them."""
    lookback: Interval = Field(default=timedelta(minutes=5), ge=timedelta(0))
    """Each incremental window starts this long before the last completed window end, so a
    write that became visible later than ``settle_delay`` is still read (re-reads are free:
    unchanged records cost no write)."""
    history_start: AwareDatetime | None = None
    """The first pull (and every deletion sweep) reads calls updated since this instant;
    None reads the whole history."""
    sweep_interval: Interval | None = Field(default=timedelta(days=1), gt=timedelta(0))
    """How often a pull re-reads every call to find deleted ones (Outreach's REST API has no
    tombstones); None turns deletion sweeps off."""
    rate_share: float = Field(default=0.5, ge=0.01, le=1)
    """Share of the 10,000 requests/hour/user budget callsync may use: the budget belongs to
    the authorising user and is shared with that user's other integrations."""
    token_refresh_margin: Interval = Field(default=timedelta(minutes=5), ge=timedelta(0))
    """Refresh the access token this long before it expires."""

    # --- writing calls into Outreach ----------------------------------------------------------

    dispositions: dict[Outcome, str] = Field(default_factory=dict)
    """The org's call disposition (by name) for each canonical outcome a written call may have;
    an outcome without one is written with Outreach's coarse ``outcome`` only. A name the org
    does not have parks the calls with that outcome (``callsync mappings show`` lists them)."""
    call_purpose: str | None = None
    """The org's call purpose (by name) every written call gets; None sends no purpose."""
    write_sequence_action: bool = True
    """Send the source's sequence action as ``sequenceAction``. Outreach acts on it (``Finish``
    takes the prospect out of its sequence), so turn it off when the source's sequences are not
    Outreach's."""
    marker_search_margin: Interval = Field(default=timedelta(days=1), ge=timedelta(0))
    """When the look-up of a possibly created call cannot be narrowed to its prospect and user,
    it reads the user's calls created since the call's start minus this margin (clock skew
    between the source and Outreach)."""
