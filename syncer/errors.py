"""The errors the engine tells apart. The question each answers is "what now?"

::

    CallsyncError
    ├── MappingFailure        one record cannot become a canonical Call: quarantine it, go on
    ├── VendorError           the vendor refused (a 4xx other than 429, or 5xx after retries)
    │   └── AuthError         credentials rejected: stop this connection, tell the admin
    │       └── RefreshTokenRefused  an OAuth refresh token already used or revoked: authorise again
    ├── AmbiguousWriteError   a create may have happened: look it up by marker, never resend
    ├── UnsettledWriteError   the marker look-up cannot tell whether it happened: ask a person
    ├── DatabaseError         the database cannot be used: the whole run stops (exit 1)
    │   └── DatabaseUrlError  ``database.url`` names nothing callsync can open (exit 2)
    └── TransientError        try again on a later run; the cursor stays where it is
        ├── VendorUnreachableError  connections refused again and again: this run gives up
        ├── RateLimitedError  the vendor (or our own pacing) asks for a wait longer than we allow
        └── BudgetExhaustedError  the configured share of a daily budget is spent
"""

from __future__ import annotations

from datetime import datetime


class CallsyncError(Exception):
    """Base of callsync's own errors."""


class MappingFailure(CallsyncError):
    """A vendor record that cannot be mapped; ``reason`` is stored with it in quarantine."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VendorError(CallsyncError):
    def __init__(self, vendor: str, status: int, message: str, body: str = "") -> None:
        super().__init__(f"{vendor} answered {status}: {message}")
        self.vendor = vendor
        self.status = status
        self.message = message
        self.body = body


class AuthError(VendorError):
    """401/403 that a token refresh did not cure."""


class RefreshTokenRefused(AuthError):
    """The token endpoint refused the refresh token (OAuth ``invalid_grant``): it was already
    used (the vendor rotates it on every use), expired or revoked. Retrying cannot cure it;
    only a new authorisation does. ``origin`` says where the admin puts the new token."""

    def __init__(
        self, vendor: str, status: int, origin: str | None = None, *, rotated: bool = False
    ) -> None:
        name, place = vendor.capitalize(), origin or "the connection's refresh_token"
        held = f"callsync stored (rotated from the one in {place})" if rotated else f"in {place}"
        there = f"in {place}" if rotated else "there"
        message = (
            f"the {name} refresh token {held} was already used or revoked (invalid_grant): "
            f"authorise callsync's {name} app again and put the new refresh token {there}, "
            "then run again (callsync drops the tokens it stored when the configured one "
            "changes; it has no command that authorises for you)"
        )
        super().__init__(vendor, status, message)
        self.origin = origin

    def __str__(self) -> str:
        return self.message


class AmbiguousWriteError(CallsyncError):
    """The connection failed after a non-idempotent request may have reached the vendor."""


class UnsettledWriteError(CallsyncError):
    """A marker look-up that cannot say whether an in-doubt write landed (the record is not
    visible to this credential, several records look alike, the search budget ran out).
    Answering "not there" would risk a duplicate, so the write waits for a person."""

    def __init__(self, message: str, evidence: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.evidence = dict(evidence or {})


class DatabaseError(CallsyncError):
    """The database refused or could not be reached. The message names the URL (password
    masked) and the driver's first line of explanation, never the statement or its parameters
    (they hold call data). Not one connection's failure: every connection shares the store."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"database {url}: {reason}")
        self.url = url
        self.reason = reason


class DatabaseUrlError(DatabaseError):
    """A URL that is not a database callsync can open: bad input, not a runtime failure."""


class TransientError(CallsyncError):
    """Nothing is wrong with the data; the run should end cleanly and retry later."""


class VendorUnreachableError(TransientError):
    """The vendor refused (or never accepted) several connections in a row: nothing was sent,
    and every further request of this connection in this run fails at once (an open circuit)."""


class RateLimitedError(TransientError):
    def __init__(self, vendor: str, wait_seconds: float) -> None:
        super().__init__(f"{vendor} asks to wait {wait_seconds:.0f}s, more than allowed per run")
        self.vendor = vendor
        self.wait_seconds = wait_seconds


class BudgetExhaustedError(TransientError):
    def __init__(self, vendor: str, detail: str, resets_at: datetime | None = None) -> None:
        super().__init__(f"{vendor} budget exhausted: {detail}")
        self.vendor = vendor
        self.resets_at = resets_at
