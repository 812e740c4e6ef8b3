"""A local emulator of the Outreach REST API (JSON:API, OAuth 2.0), as strict and as quirky as
shared/vendor-apis/amplemarket-outreach.md §2 documents it ("doc §x" below).

Public surface
--------------
``OutreachEmulator(*, state=None, clock=None, faults=None, **tunables)``; ``base_url`` is the
vendor origin (``https://api.outreach.io`` in production). Tunables (defaults = documented
values, so tests can shrink them): ``access_token_ttl`` 7200 s, ``refresh_token_ttl`` 14 days,
``refresh_tokens_kept`` 100, ``token_mint_interval`` 60 s (0 = off), ``rate_limit`` 10,000
per ``rate_window`` 3600 s, ``dual_remaining_every`` 4, ``page_size`` 50, ``max_page_size``
1000, ``disorder_every`` 4, ``count_cap`` 10,000, ``required_relationships``
("prospect", "user").

Demo credentials (class constants): ``DEMO_CLIENT_ID``, ``DEMO_CLIENT_SECRET``,
``DEMO_REDIRECT_URI`` and, after ``seed_world``, ``DEMO_REFRESH_TOKEN`` (first world user,
``DEFAULT_SCOPE``), valid until first spent; each exchange returns its successor.

Admin helpers (no HTTP, act as a user in the UI): ``seed_world(world)``,
``issue_authorization_code(user_id, scope, redirect_uri)``, ``add_prospect(...)``,
``add_call(...)``, ``edit_call(call_id, changes)`` (``updatedAt`` -> now),
``delete_call(call_id)``, ``call(call_id)`` and ``iter_calls()`` (records as the API shows them).

Endpoints
---------
``POST /oauth/token`` (grants ``refresh_token``, ``authorization_code``);
``GET/POST /api/v2/calls``, ``GET/DELETE /api/v2/calls/{id}`` (no PATCH: calls are
immutable through the API); ``GET /api/v2/{callDispositions,callPurposes,prospects,
phoneNumbers,users}`` and ``/{id}``. Lists: ``page[size]`` (default 50, max 1000),
``page[after]`` keyset cursor (base64 JSON of sort value + id) and absolute ``links.next``
carrying every parameter, ``sort`` (``id`` default, ``[-]updatedAt``, ``[-]createdAt``...),
``filter[updatedAt|createdAt][gte|lte]`` with ``newFilterSyntax=true`` and the legacy
``filter[updatedAt]=a..b`` (``inf``/``neginf``), ``filter[id]``, ``filter[<relationship>][id]``,
``include`` on calls, ``fields[type]``, ``count=true`` (``meta.count``, ``count_truncated``).

Finding a prospect: by email ``GET /prospects?filter[emails]=a@b.c`` (case-insensitive). By
phone, Outreach offers no filter on the prospect's phone arrays (they are not filterable in the
published spec); the documented route is the ``phoneNumber`` resource, whose ``number`` is the
normalised E.164 form and is filterable: ``GET /phoneNumbers?filter[number]=+14155550100``,
then its ``prospect`` relationship. Its ``rawNumber`` and the prospect's ``workPhones``,
``mobilePhones``, ``homePhones``, ``otherPhones`` and ``voipPhones`` keep the typed text.
Users: ``filter[email]``.

Quirks and limits kept
----------------------
- ``Content-Type: application/vnd.api+json`` required on every API request (GET too), else
  415 ``unsupportedMediaType`` whose error says ``details`` (plural, as the vendor's example).
- Integer ids; relationship ids and disposition/purpose ``order`` that are null.
- Second-precision ``...SS.000Z`` timestamps with many ties; ``createdAt`` is not the call
  time; manually logged calls have null dialed/answered/completed times.
- Numbers in calls and on prospects in non-E.164 formats.
- Pages slightly out of sort order (adjacent swaps on some pages); the cursor is taken from
  the true order, so one walk skips nothing.
- Access tokens expire (2 h) -> 401; refresh tokens rotate on every use; one new token per
  user per minute; missing scope -> 403 ``unauthorizedOauthScope``.
- 10,000 requests per hour per user, ``X-RateLimit-Limit/Remaining/Reset`` (epoch seconds) on
  every counted response, Remaining sometimes "a, b"; 429 ``rateLimitExceeded``.
- Faults (``FaultPlan``): 429 in the vendor's shape; 500 JSON:API; 503
  ``scheduledServerMaintenance`` with an ISO 8601 ``Retry-After``; 502/504 as a gateway's
  HTML page; drops, timeouts, truncated bodies, lost responses after commit, token expiry.
- POST validation with 422 ``validationError`` + ``source.pointer`` (see ``calls.py``).

Deliberately not emulated
-------------------------
Webhooks; offset pagination and ``page[before]`` (rejected with 422); writes to anything but
calls; filters the emulator does not index (rejected with 422 rather than ignored);
``provideAuthorizationMeta``/``provideDataConnections`` meta; S2S tokens; Kaia; sequences,
tasks and opportunities (relationship ids to them are accepted unchecked); the 503 that a
real maintenance window returns for its whole duration (only injected as a fault).
"""

from __future__ import annotations

from connectors.outreach.emulator.core import EmulatorSettings, OutreachEmulator, OutreachTunables

__all__ = ["EmulatorSettings", "OutreachEmulator", "OutreachTunables"]
