"""Pipedrive cassettes live in ``cassettes/`` next to this file (one directory per vendor)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(Path(__file__).parent / "cassettes")
