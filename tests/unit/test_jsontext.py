"""``syncer.jsontext``: the fast serialiser gives exactly the text digests were taken over."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from syncer import jsontext

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


def reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@settings(max_examples=400, deadline=None)
@given(values)
def test_stable_text_is_what_json_writes(value: object) -> None:
    assert jsontext.stable(value, default=str) == reference(value)


def test_the_cases_orjson_writes_otherwise_fall_back() -> None:
    for value in (
        {"name": "Chloé"},  # json escapes non-ASCII
        {"k": "\x7f"},  # ... and DEL
        {"small": 1e-05, "tiny": -1e-09},  # 0.00001 and 1e-9 in orjson
        {"big": 2**70},  # orjson refuses
        {1: "int key"},  # orjson refuses
    ):
        assert jsontext.stable(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_compact_reads_back() -> None:
    value = {"b": [1, 2.5, None], "a": "é", "big": 2**70}
    assert json.loads(jsontext.compact(value)) == value
