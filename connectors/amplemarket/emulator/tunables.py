"""The emulator's knobs, with the vendor's documented values as defaults (tests shrink them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tunables:
    default_page_size: int = 20  # §1.4: default page size (the self links show page[size]=20)
    # Unconfirmed: the maximum page size is undocumented (§1.4); above it the API answers 400.
    max_page_size: int = 100
    requests_per_minute: int = 500  # §1.12: per consumer, across all endpoints
    recordings_per_hour: int = 50  # §1.12 / §1.10: GET /calls/{id}/recording
    # Unconfirmed: the size above which a recording is "too big" (413) is undocumented.
    recording_max_bytes: int = 25 * 1024 * 1024
    # Unconfirmed: whether a call can be logged against a completed or skipped task is not
    # documented; the strict default rejects it (400), so callsync never relies on it.
    accept_calls_on_closed_tasks: bool = False
