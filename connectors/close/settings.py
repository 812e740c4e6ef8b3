"""Configuration keys of a Close connection.

Only ``api_key`` is required; every read tunable has a default chosen from the vendor facts in
``shared/vendor-apis/close-pipedrive.md`` §1 (the section each default relies on is named).
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field, SecretStr, model_validator

from connectors.base import ConnectionSettings
from syncer.model import Outcome


class CloseSettings(ConnectionSettings):
    api_key: SecretStr

    # --- creation windows (stream "calls", §1.5 / §1.9) ---------------------------------------
    start_date: AwareDatetime | None = None
    """The first pull reads calls created after this instant; unset = the whole history."""
    settle_delay_seconds: int = Field(default=120, ge=0)
    """Windows end this long before now, so inserts cannot shift ``_skip`` offsets inside a
    window and calls committed late are still seen (§1.9: "now - 2 min")."""
    creation_lookback_seconds: int = Field(default=0, ge=0)
    """Extra overlap re-read before the stored position (edits are caught by the event log)."""
    page_size: int = Field(default=100, ge=2, le=100)
    """``_limit`` of call lists; 100 is what connectors use, the real max is UNCONFIRMED."""
    max_skip: int = Field(default=250_000, ge=2)
    """Deepest ``_skip`` the call list accepts (UNCONFIRMED; a 400 ``max_skip = N`` teaches
    the real value, which is then remembered in connector state)."""
    in_progress_watch_hours: float = Field(default=24.0, ge=0)
    """Calls read while still ``created``/``in-progress`` are re-read each poll until they
    finish, for at most this long (gotcha 1.12-l; 0 disables the watch)."""
    include_transcripts: bool = False
    """Ask for ``recording_transcript``/``voicemail_transcript`` through ``_fields`` (§1.3)."""

    # --- event log (stream "call_events", §1.8 / §1.9) ----------------------------------------
    event_rescan_seconds: int = Field(default=300, ge=0)
    """Each poll re-reads this much of the log before the last poll (late, merged events)."""
    event_max_gap_days: float = Field(default=29.0, gt=0, le=30)
    """A gap longer than this since the last event poll cannot be covered by the log (30 days
    kept): the stream then re-scans every call and infers deletions."""
    watch_backdated_creates: bool = True
    """Also read ``created`` events, to catch calls logged with a ``date_created`` in the past
    (accepted on create, §1.6), which the creation windows have already passed."""

    # --- rate limits (§1.10) ----------------------------------------------------------------
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    """The per-key limit of one endpoint group (Close's documented example: 20 rps)."""
    rate_share: float = Field(default=0.5, gt=0, le=1)
    """The share of that limit callsync may use (the organisation limit is shared by every
    integration of the account)."""

    # --- writing (calls logged into Close, §1.6 / §1.7) -------------------------------------
    outcomes: dict[Outcome, str] = Field(default_factory=dict)
    """Canonical outcome -> the name of a Close custom outcome (``GET /outcome/``) to set as
    ``outcome_id`` on calls written with that outcome, e.g. ``{wrong_number: "Wrong number"}``.
    Only calls written with status ``completed`` carry it (Close: "only calls that connected
    can carry a custom outcome"); a name Close does not know parks the call."""
    marker_custom_field_id: str | None = Field(default=None, pattern=r"^cf_\w+$")
    """A call custom field (``cf_...``) that also receives callsync's marker (``custom.<id>``);
    the marker is always written as the note's last line (``callsync:<call uid>``) too."""

    identity_miss_seconds: int = Field(default=600, ge=0)
    """A person or user not found in Close is looked up again after this long (by the
    connection's clock), so a call parked for a missing person resolves once it is added."""

    @model_validator(mode="after")
    def _pages_fit_under_the_cap(self) -> CloseSettings:
        if self.max_skip < self.page_size:
            raise ValueError(f"max_skip ({self.max_skip}) must be at least page_size")
        return self
