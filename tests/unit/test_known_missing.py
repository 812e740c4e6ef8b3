"""What the look-up cache already says a target lacks (``syncer.identities.known_missing``):
only a miss on every way a connector looks counts; anything else is left for ``resolve``."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.identities import known_missing
from syncer.model import Party
from tests.unit.test_planner import call

MISS = {"missing": True}
NUMBER, USER, CONTACT = "+14155550100", "ana@acme.test", "bo@client.test"


class Cache:
    """The identity cache, as ``kind:key`` -> value."""

    def __init__(self, entries: dict[str, dict[str, Any]]) -> None:
        self.entries = {tuple(key.split(":", 1)): value for key, value in entries.items()}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.entries.get((kind, key))

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        self.entries[(kind, key)] = value


WITH_CONTACT = call(contact=Party(email="Bo@Client.test"))


@pytest.mark.parametrize(
    ("the_cache", "the_call", "creates", "expected"),
    [
        ({f"user:{USER}": MISS}, call(), False, f"no Close user with e-mail {USER}"),
        ({f"user:{USER}": MISS}, call(), True, f"no Close user with e-mail {USER}"),
        ({f"user:{USER}": {"id": "u1"}}, call(), False, None),
        ({f"phone:{NUMBER}": MISS}, call(), False, f"no Close person with {NUMBER}"),
        ({f"phone:{NUMBER}": MISS}, call(), True, None),  # the connector may create one
        ({f"phone:{NUMBER}": {"stale": True}}, call(), False, None),
        ({f"phone:{NUMBER}": {"people": []}}, call(), False, None),
        ({f"phone:{NUMBER}": MISS}, WITH_CONTACT, False, None),  # the e-mail is not known
        (
            {f"phone:{NUMBER}": MISS, f"email:{CONTACT}": MISS},
            WITH_CONTACT,
            False,
            f"no Close person with {NUMBER} or {CONTACT}",
        ),
        ({f"phone:{NUMBER}": MISS, f"email:{CONTACT}": {"id": 1}}, WITH_CONTACT, False, None),
        ({}, call(to_number=None), False, None),
    ],
)
def test_only_what_the_cache_says_is_missing_parks(the_cache, the_call, creates, expected):
    missing = known_missing(Cache(the_cache), "close", the_call, create_missing_contacts=creates)
    if expected is None:
        assert missing is None
    else:
        assert missing is not None
        assert missing.reason.startswith(expected)
        assert "look-up cache" in missing.reason
        assert missing.candidates == ()
