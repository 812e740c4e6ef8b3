"""Connector test fixtures: a harness per vendor, and the vcrpy configuration.

Cassettes live in ``tests/connectors/<vendor>/cassettes/`` and are written by hand from the
documented payloads in ``shared/vendor-apis/``. They replay only (record mode ``none``); the
configuration below would scrub secrets if one were ever recorded, and
``test_cassettes_hold_no_secrets`` checks every cassette anyway.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from tests.connectors.harness import Harness

KINDS = ("amplemarket", "outreach", "close", "pipedrive")


def _load_harness(kind: str) -> Any:
    return importlib.import_module(f"tests.connectors.{kind}.harness").make_harness


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest) -> Harness:
    harness: Harness = _load_harness(request.param)()
    return harness


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "record_mode": "none",
        "filter_headers": [
            ("authorization", "REDACTED"),
            ("x-api-token", "REDACTED"),
            ("cookie", None),
            ("set-cookie", None),
        ],
        "filter_query_parameters": ["api_token", "api_key", "access_token"],
        "filter_post_data_parameters": ["client_secret", "refresh_token", "code"],
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
        "allow_playback_repeats": False,
    }
