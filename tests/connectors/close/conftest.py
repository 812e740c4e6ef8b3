"""Close cassettes live in ``tests/connectors/close/cassettes/`` (one file per test, by name)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(Path(__file__).parent / "cassettes")
