"""The contract between the engine and a vendor connector, documented once.

A vendor kind contributes three things, registered by dotted path in ``connectors/__init__.py``:

- **settings**: a pydantic model (subclass of :class:`ConnectionSettings`) for the vendor-specific
  keys of a connection in the YAML config: credentials and tunables. Unknown keys are rejected.
  Secrets are ``SecretStr`` so they never print.
- **emulator**: a faithful local emulator of the vendor API (``connectors.emulation``), used by
  ``callsync demo``, the end-to-end tests and the benchmarks.
- **connector**: reads and writes calls (the read and write contracts are added with the
  connectors themselves).
"""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel, ConfigDict


class ConnectionSettings(BaseModel):
    """Keys every connection accepts besides the engine's own (kind, schedule, mapping)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: AnyHttpUrl | None = None
    """Point the connection at a proxy or a local emulator instead of the vendor."""
