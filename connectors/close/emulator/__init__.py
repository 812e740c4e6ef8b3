"""A local, deliberately strict emulator of the Close API (close-pipedrive.md §1).

Reach it at ``base_url`` = the origin; every path is Close's real one under ``/api/v1/`` with
Close's trailing slashes (a path without the slash is a 404).

Public surface
--------------
``CloseEmulator(*, state=None, clock=None, faults=None, max_limit=100, max_skip=250_000,
event_delay_seconds=2.0, event_jitter_seconds=3.0, merge_window_seconds=10.0,
event_retention_days=30, rate_limits=None, rate_window_seconds=1.0, org_limit_multiplier=3,
demo_key_is_admin=False, seed_events=True)``

- ``CloseEmulator.DEMO_API_KEY`` works from construction on (Basic auth, key as username, empty
  password); it belongs to ``INTEGRATION_USER_ID``, a non-admin user unless
  ``demo_key_is_admin``. Anything else (unknown key, Bearer token, no header) answers 401.
- ``seed_world(world)`` (or ``seed(world)``, which returns a ``SeedSummary``): users, leads and
  contacts, calls made in Close and calls logged from elsewhere, ``created`` events (see
  ``_seed.py``), all in one transaction. ``user_id_for`` / ``contact_id_for`` / ``call_id_for``
  name the Close ids of world objects; ``outcome_id(name)`` those of the default outcomes.
- Admin helpers acting as a user in Close's UI (no HTTP, no rate limit): ``add_lead``,
  ``add_close_call`` (source ``Close.io``, disposition set), ``edit_call`` (bumps
  ``date_updated``; quick edits merge into one event), ``delete_call``, ``delete_outcome``
  (leaves dangling ``outcome_id``s), ``add_api_key``, ``add_call_custom_field``; peeks ``call``
  (with transcripts) and ``contact``.

Endpoints
---------
``GET /me/`` (cheap credential probe), ``GET /user/`` + ``/user/{id}/``, ``GET /outcome/`` +
``/outcome/{id}/``, ``GET|POST /activity/call/``, ``GET|PUT|DELETE /activity/call/{id}/``,
``GET /event/``, ``GET|POST /lead/`` (+ legacy ``?query=phone:".."``), ``GET /lead/{id}/``,
``GET|POST /contact/``, ``GET /contact/{id}/``, ``POST /data/search/`` (Advanced Filtering
subset). Any route also accepts ``POST`` + ``x-http-method-override: GET`` + ``{"_params": {}}``.

Documented behaviour emulated (and tested)
------------------------------------------
- Calls: ``{"data": [...], "has_more"}`` with ``_limit`` (default 100, 400 above ``max_limit``;
  UNCONFIRMED real max) and ``_skip`` (400 ``{"error": "... max_skip = N ..."}`` above
  ``max_skip``; UNCONFIRMED real value); filters ``id__in``, ``lead_id``, ``contact_id``,
  ``user_id``, ``organization_id``, ``_type``, ``date_created__gt/gte/lt/lte``,
  ``activity_at__gt/gte/lt/lte`` (ISO date-times or dates; ``x-tz-offset`` applies); no
  ``date_updated`` filter (ignored like any unknown parameter); newest first (ordering
  UNCONFIRMED, see ``CallQuery``). ``_fields`` restricts the response; ``recording_transcript``
  and ``voicemail_transcript`` appear only when listed.
- ``POST`` logs an external call: 200 with the full object, ``source: "External"``,
  ``call_method: "external"``, ``status`` defaulting to ``completed``, ``cost`` a string of cents.
  The request schema is closed (additionalProperties false): unknown keys, ``disposition``
  included, answer 400 ``{"errors": [], "field-errors": {...}}`` (UNCONFIRMED for disposition:
  Close may ignore it). ``phone`` must be E.164, ``recording_url``/``voicemail_url`` https,
  ``duration`` an integer 0..604800, ``lead_id`` required (UNCONFIRMED, strict), contact must
  belong to the lead, outcomes must exist, be live and sit on a connected (completed) call.
- ``PUT`` is partial, with the documented updatable keys only; ``note``/``note_html`` overwrite
  each other (``note_html`` wins); on ``Close.io`` calls status/duration are locked and changing
  media needs ownership or an admin key, and deletes the transcript. ``DELETE`` answers ``{}``.
- Event log, late/merged events, retention, filter combinations: ``_events.py``.
- Rate limits per endpoint group, key and organisation (3x): ``_ratelimit.py``.
- Errors: ``{"error": "..."}`` for 400/401/404/405/415, field-errors for validation, the legacy
  nested body for 429. Fault injection (429s, 5xx, latency, timeouts, drops, truncated JSON,
  lost responses after commit) comes from the shared ``FaultPlan``.
- Quirks kept: integers that arrive null (``duration`` of failed calls and of some externally
  logged ones, ``voicemail_duration``), whole-second ``date_created`` with many ties next to
  millisecond ones, timestamps printed with and without a fraction, naive event timestamps,
  ``lead_id``/``contact_id`` null for calls to numbers that are no contact in Close, several
  contacts sharing a company main line, dangling outcomes. Close stores phones in E.164, so
  numbers in other formats only appear in ``*_formatted`` fields (and are normalised on input
  for contacts; call ``phone`` must already be E.164).

Layout and cost
---------------
``_emulator`` (routes, auth, limits, errors), ``_admin`` (seeding and UI helpers), ``_calls`` /
``_call_rules`` / ``_call_list`` (calls), ``_events``, ``_people`` / ``_search`` (leads, contacts,
look-ups), ``_ratelimit``, ``_seed``, ``_state`` (StateDB collections), ``_support``.
Pages are keyset scans on indexed keys (``_skip`` is resolved by one index-only SQL OFFSET);
look-ups go through a phone/e-mail index. Seeding writes one row per call and per ``created``
event in a single transaction: about 24 s of CPU for 100k calls on the dev box, 17 s with
``seed_events=False``; the shared ``Collection.put`` (~60-80 us a row) is most of it.

Deliberately not emulated
-------------------------
OAuth (Bearer tokens, ``/oauth2/token/``), webhooks, outcome/lead/contact updates and deletes,
lead merges, opportunities/tasks/other activity types, the generic ``/activity/`` endpoint,
``answered``/``completed`` call events, free-text lead search, Advanced Filtering beyond the
phone/e-mail subset, 402 plan limits, the Export API.
"""

from __future__ import annotations

from ._emulator import CloseEmulator
from ._seed import SeedSummary

__all__ = ["CloseEmulator", "SeedSummary"]
