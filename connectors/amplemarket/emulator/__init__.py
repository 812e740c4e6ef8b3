"""A faithful local emulator of the Amplemarket API (call logs and what logging them needs).

Facts come from ``shared/vendor-apis/amplemarket-outreach.md`` §1 (cited as §1.x) and the
official API reference pages quoted in ``shared/seeds``. Where the vendor is silent the
emulator picks the strict reading and says so beside the code ("Unconfirmed").

Public surface
--------------
``AmplemarketEmulator(*, state=None, clock=None, faults=None, default_page_size=20,
max_page_size=100, requests_per_minute=500, recordings_per_hour=50,
recording_max_bytes=25 MiB, accept_calls_on_closed_tasks=False)``

- ``DEMO_API_KEY``: accepted once ``seed_world`` ran (``add_api_key`` adds others).
- ``seed_world(world)``: users, a sequence per user, contacts, tasks, dispositions and calls
  (see ``seeding``), in one transaction.
- UI-side helpers: ``add_user``, ``add_contact``, ``add_task``, ``add_call`` (a dialer call,
  optionally started in the past), ``edit_call(id, disposition_id=/notes=/transcription=)``
  (silent: calls have no ``updated_at``), ``delete_call``, ``get_call``, ``get_task``,
  ``lead_status``, ``add_api_key`` / ``revoke_api_key``, and the ids of world records
  (``user_id_for``, ``contact_id_for``, ``task_id_for``, ``call_id_for``).

Emulated (paths after the origin, no ``/v1`` prefix)
---------------------------------------------------
- ``GET /calls``: newest first; ``page[size]`` (default 20, above 100 a 400 -- the maximum is
  undocumented), exclusive ``page[after]`` / ``page[before]`` id cursors; filters ``user_id``,
  ``from``, ``to`` (exact string match: the vendor does not normalise numbers),
  ``start_date_from`` / ``start_date_to`` (both exclusive; the strict reading of an
  unconfirmed fact); relative ``_links`` with ``next`` / ``prev`` only when more items exist,
  carrying the filters forward; ``400 unsupported_value`` "Invalid date format".
- ``POST /calls``: the seven required fields and three optional ones, type-checked; unknown
  fields (``start_date``, ``notes``, ``direction``, ``contact``) dropped silently; the server
  sets ``start_date`` to now and ``external: true``; ``201`` with the documented key set; the
  contact comes from the task; a ``complete`` disposition completes the task and the sequence
  lead. No PUT / PATCH / DELETE (calls are immutable via the API) and no idempotency keys.
- ``GET /calls/dispositions``, ``GET /calls/{id}/recording`` (``audio/mpeg`` bytes, in-app
  calls only, 50/hour, ``404 not_found`` and ``413 content_too_large`` as documented),
  ``GET /tasks`` (``user_id`` required; filters ``automatic``, ``type``, ``status``,
  ``sequence_key``, ``keyword``), ``GET /users`` (from the official reference, not the shared
  note: ``POST /calls`` and ``GET /tasks`` need user ids), ``GET /account-info``.
- Every list reads through the index of one filter (see ``store``), other filters are checked
  row by row, so no request walks the whole history; POST validation, task completion and the
  call insert happen in one transaction.
- Bearer API keys (401 otherwise); 500 requests/minute per key, recordings also 50/hour;
  429 without any rate-limit or ``Retry-After`` header; ``_errors`` + ``"object": "error"``
  error bodies; 502/503/504 as HTML pages from the "load balancer".
- Quirks: UUIDv7 ids whose time equals ``start_date``; second-precision timestamps with many
  ties; numbers in mixed formats; ``duration`` / ``answered`` / ``task_id`` / ``contact``
  that arrive null; no ``updated_at``, so edits and deletes are invisible to incremental reads.

Deliberately not emulated
-------------------------
HTTPS redirects, the rest of the Amplemarket API (people search, sequences, leads, mailboxes,
``POST /tasks/{id}/complete``), webhooks (none exist for calls), ``transcript`` entries (always
``[]``), task filters ``contact_local_time_*`` (validated, not applied) and ``message_opens``
(ignored),
and a live join of contact names into calls (calls keep the contact as it was when logged).
"""

from __future__ import annotations

from connectors.amplemarket.emulator.emulator import AmplemarketEmulator

__all__ = ["AmplemarketEmulator"]
