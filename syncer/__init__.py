"""callsync's engine: canonical model, config, store, pull/match/push, scheduler and CLI.

It reaches vendor code only through the registry in ``connectors``.
"""

from __future__ import annotations
