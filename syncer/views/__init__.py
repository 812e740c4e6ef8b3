"""What the long commands (``pull``, ``sync``, ``backfill``) show: progress while they run
(``progress``), and the summary they end with (``summary``, printed by ``output``). The engine
knows none of this: it reports through callbacks and result objects."""
