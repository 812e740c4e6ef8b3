"""``python -m syncer`` runs the callsync command line."""

from __future__ import annotations

from syncer.cli import main

main()
