"""HTTP plumbing shared by every connector: one client per connection with timeouts and limits
(``client``), retries with backoff that honours Retry-After and vendor rate-limit headers
(``retry``), proactive pacing per credential (``ratelimit``), and rotating OAuth tokens
(``oauth``). httpx retries only failed connects; everything else is ours."""

from __future__ import annotations

from syncer.http.client import VendorClient
from syncer.http.ratelimit import Pacer, RateLimitHint
from syncer.http.retry import RetryPolicy

__all__ = ["Pacer", "RateLimitHint", "RetryPolicy", "VendorClient"]
