"""Configuration keys of a Pipedrive connection (API token of one user in one company).

Every read tunable has a default, so a connection needs only its token. Durations accept
seconds (``120``) or ISO 8601 (``PT2M``). Facts behind the defaults: vendor-apis
close-pipedrive.md §2.3 (call logs: 50 per page), §2.4 (activities: 500 per page), §2.9 (burst
window of 2 s, 20 requests on the strictest plan; daily token budget shared company-wide).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr

from connectors.base import ConnectionSettings, Interval

MAX_CALL_LOG_PAGE = 50  # §2.3 / §2.11d: the largest `limit` /v1/callLogs accepts
MAX_ACTIVITY_PAGE = 500  # §2.4: the largest `limit` of v2 lists
BURST_WINDOW_SECONDS = 2.0  # §2.9: the burst limit is a rolling 2-second window


class PipedriveSettings(ConnectionSettings):
    api_token: SecretStr
    company_domain: str | None = None
    # The daily token budget is shared by every integration of the company: never spend more
    # than this share of it.
    daily_budget_share: float = Field(default=0.5, gt=0, le=1)

    call_log_page_size: int = Field(default=MAX_CALL_LOG_PAGE, ge=2, le=MAX_CALL_LOG_PAGE)
    """Call logs per list request (20 tokens whatever the size: the maximum is cheapest)."""
    activity_page_size: int = Field(default=MAX_ACTIVITY_PAGE, ge=1, le=MAX_ACTIVITY_PAGE)
    """Activities per list request (10 tokens whatever the size)."""
    burst_limit: int = Field(default=20, ge=1)
    """Requests per 2 s the company's plan allows one API token (x-ratelimit-limit); 20 is the
    strictest documented plan (Lite/Essential)."""
    burst_share: float = Field(default=0.8, gt=0, le=1)
    """Share of the burst window callsync uses: other integrations may share the token."""
    lookback: Interval = Field(default=timedelta(minutes=2), ge=timedelta(0))
    """Each pass re-reads activities updated this long before the newest one it saw, so a
    write that became visible late (or a clock step) is still read; re-reads cost no write."""
    sweep_interval: Interval = Field(default=timedelta(days=1), gt=timedelta(0))
    """How often a pull re-reads the whole call-log list: it is the only way to see deleted
    call logs, recordings added later, and logs no cheaper probe found."""
    tail_overlap: int = Field(default=10, ge=0, le=MAX_CALL_LOG_PAGE - 1)
    """A search for new call logs starts this many entries before the end of the list seen
    last, so up to this many deletions since then cannot hide a new log."""
    search_buffer: int = Field(default=2000, ge=0)
    """Call logs a search read before their activity came up, kept (in memory, per pull) so
    the next activity page finds them without reading the list again."""
    profile_refresh: Interval = Field(default=timedelta(days=1), gt=timedelta(0))
    """How long the token user's profile (id, phone numbers for direction) is reused."""
    other_users: bool = True
    """Also read the calls of the company's other users, from their ``call`` activities (the
    call-log list shows only the token user's logs): no numbers, outcome or recording."""

    # --- writing -------------------------------------------------------------------------------
    link_deals: bool = True
    """File a written call under the person's deal or lead when their call activities point at
    exactly one (one activity page, 10 tokens per person, cached); off: never link one."""
    marker_lookback: Interval = Field(default=timedelta(hours=1), ge=timedelta(0))
    """``find_by_marker`` reads the owner's activities updated since the call started minus
    this (clock skew between the source and Pipedrive)."""
    marker_search_pages: int = Field(default=40, ge=1)
    """At most this many call-log list pages (20 tokens each) ``find_by_marker`` reads to turn
    the activity carrying the marker into its call-log id."""
