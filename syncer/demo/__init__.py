"""``callsync demo``: the engine against bundled emulators of the four tools, no accounts.

- ``scenario``: the world, the packaged config (``callsync-demo.yaml``) and what reps do in
  their tools between cycles, through the emulators' vendor-neutral hooks;
- ``cycles``: the backfill and the incremental cycles, through the engine's own functions;
- ``view``: what moved where, as tables, JSON or one line; ``cli``: the command.
"""
