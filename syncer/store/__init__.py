"""callsync's own database: schema (``tables``), the portable upsert, engine set-up and
migrations (``database``), and the repository every read and write goes through (``repo``)."""

from __future__ import annotations
