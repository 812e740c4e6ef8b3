"""Local emulator of the Pipedrive API, as strict and quirky as vendor-apis §2 documents.

Public surface (``connectors.pipedrive.emulator:PipedriveEmulator``)::

    emulator = PipedriveEmulator(state=StateDB(path), clock=ManualClock(), faults=FaultPlan(...),
                                 daily_budget=None, plan_multiplier=1, burst_limit=20,
                                 search_burst_limit=10, burst_window_seconds=2.0,
                                 hammer_limit=10, daily_headers_missing_every=10,
                                 call_logs_page_max=50, activities_page_max=500,
                                 purge_after_days=30, company_domain="callsync-demo")
    emulator.seed_world(World(...))      # users, persons, orgs, deals, leads, calls
    PipedriveEmulator.DEMO_API_TOKEN     # the first (admin) user's token, valid after seeding
    emulator.api_token_for(user_id)      # every seeded user has their own token

Admin helpers (no HTTP; act as a user in Pipedrive's UI): ``add_user``, ``add_person``,
``delete_person``, ``add_org``, ``add_deal``, ``add_lead``, ``add_call_log``, ``call_log``,
``delete_call_log``, ``activity``, ``edit_activity`` (bumps ``update_time``),
``delete_activity`` (soft), ``recording_bytes``, ``daily_tokens_remaining``,
``spend_daily_tokens`` (another integration eats the shared budget), ``user_ids``,
``user_id_for_token``.

Emulated (reached at the vendor origin; v1 under both ``/v1`` and ``/api/v1``):
- ``GET/POST /v1/callLogs``, ``GET/DELETE /v1/callLogs/{id}``,
  ``POST /v1/callLogs/{id}/recordings`` (see ``calllogs``);
- ``GET/POST /api/v2/activities``, ``GET/PATCH/DELETE /api/v2/activities/{id}`` (``activities``);
- ``GET /api/v2/persons/search``, ``GET /v1/persons/search``, ``GET /api/v2/persons/{id}``,
  ``GET /v1/users/me``, ``/v1/users/find``, ``/v1/users``, ``/v1/users/{id}`` (``people``),
  ``GET /v1/activityTypes``;
- ``x-api-token`` auth (401 in the gateway's ``errorCode`` shape), the error envelope
  ``{success: false, error, error_info, data: null, additional_data: null}``, ``Unknown method .``
  for unknown paths;
- per-token burst window, Search API window, company-wide daily token budget with the
  documented per-endpoint costs, ``x-ratelimit-*`` / ``x-daily-ratelimit-token-*`` headers, the
  Cloudflare HTML 403 for clients hammering after 429s (``ratelimits``);
- quirks: string call-log ids and durations, ``...000Z`` times, null integer links, missing
  optional strings, ``data: null`` for empty v1 lists, varied phone formats, second-precision
  timestamps with ties, soft-deleted activities purged after 30 days.

Deliberately not emulated: OAuth (callsync uses API tokens), ``/v1/recents``, webhooks,
``x-daily-requests-left`` (no documented number), deals/leads/organizations endpoints (seeded
only, so call logs can link to them), the 402/415/422/501 account states, custom fields.
"""

from __future__ import annotations

from connectors.pipedrive.emulator.app import PipedriveEmulator

__all__ = ["PipedriveEmulator"]
