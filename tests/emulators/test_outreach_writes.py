"""Writing calls to the Outreach emulator (doc §2.9): POST validation, 201, DELETE, and the
admin helpers that act as a user in Outreach's UI."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.outreach.emulator.jsonapi import iso
from tests.emulators.test_outreach_support import (
    SINCE,
    Harness,
    all_calls,
    call_body,
    errors_of,
    make,
)


@pytest.fixture
def harness() -> Harness:
    return make(calls=40)


def _prospect(harness: Harness) -> int:
    return int(harness.get("/api/v2/prospects", {"page[size]": "1"}).json()["data"][0]["id"])


def test_create_answers_201_with_the_record_only(harness: Harness) -> None:
    prospect = _prospect(harness)

    response = harness.post_call(call_body(prospect, 1), {"include": "prospect"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"data"}  # include is not honoured on create
    record = body["data"]
    assert record["type"] == "call"
    assert isinstance(record["id"], int)
    now = iso(harness.clock.now())
    assert record["attributes"]["createdAt"] == record["attributes"]["updatedAt"] == now
    assert record["attributes"]["outcome"] == "Answered"
    assert record["attributes"]["state"] is None
    assert record["relationships"]["prospect"]["data"] == {"type": "prospect", "id": prospect}
    assert harness.get(f"/api/v2/calls/{record['id']}").json()["data"] == record


def test_timestamps_sent_with_milliseconds_are_stored_at_second_precision(
    harness: Harness,
) -> None:
    body = call_body(_prospect(harness), 1, dialedAt="2025-10-06T16:30:08.789Z")

    record = harness.post_call(body).json()["data"]

    assert record["attributes"]["dialedAt"] == "2025-10-06T16:30:08.000Z"


def _set(path: str, value: Any) -> Any:
    """A mutation of the valid create body at a '/'-separated path (None deletes)."""

    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = body
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


INVALID = [
    ("data/id", 5),
    ("data/type", "calls"),
    ("data/attributes/createdAt", "2025-10-06T16:30:08.000Z"),
    ("data/attributes/state", "completed"),
    ("data/attributes/uid", "x"),
    ("data/attributes/duration", 30),
    ("data/attributes/direction", "outgoing"),
    ("data/attributes/outcome", "answered"),
    ("data/attributes/outcome", "Voicemail"),
    ("data/attributes/sequenceAction", "Finish - Bounced"),
    ("data/attributes/userCallType", "pstn"),
    ("data/attributes/recordingUrl", "https://r.example/" + "a" * 240),
    ("data/attributes/recordingUrl", "ftp://r.example/a.mp3"),
    ("data/attributes/vendorCallId", "v" * 64),
    ("data/attributes/dialedAt", "yesterday"),
    ("data/attributes/tags", "Interested"),
    ("data/relationships/batches", {"data": None}),
    ("data/relationships/prospect", {"data": {"type": "prospect", "id": "2001"}}),
    ("data/relationships/prospect", {"data": {"type": "prospect", "id": 1}}),
    ("data/relationships/user", {"data": {"type": "prospect", "id": 1}}),
    ("data/relationships/prospect", None),
    ("data/relationships/callDisposition", {"data": {"type": "callDisposition", "id": 999}}),
]


@pytest.mark.parametrize(("path", "value"), INVALID)
def test_each_documented_violation_is_a_422_with_its_pointer(
    harness: Harness, path: str, value: Any
) -> None:
    body = call_body(_prospect(harness), 1)
    _set(path, value)(body)
    before = len(all_calls(harness))

    response = harness.post_call(body)

    assert response.status_code == 422
    errors = errors_of(response)
    assert [e["source"]["pointer"] for e in errors] == [f"/{path}"]
    assert errors[0]["id"] == "validationError"
    assert errors[0]["title"] == "Validation Error"
    assert len(all_calls(harness)) == before  # nothing was written


def test_limits_are_inclusive_and_nulls_are_accepted(harness: Harness) -> None:
    body = call_body(
        _prospect(harness),
        1,
        vendorCallId="v" * 63,
        recordingUrl="http://r.example/" + "a" * 238,
        sequenceAction="Finish - No Reply",
        userCallType="bridge",
        note=None,
        externalVendor=None,
    )

    response = harness.post_call(body)

    assert response.status_code == 201, response.text


def test_all_problems_are_reported_at_once(harness: Harness) -> None:
    body = call_body(_prospect(harness), 1, outcome="Yes", direction="sideways")
    del body["data"]["relationships"]["user"]

    pointers = {e["source"]["pointer"] for e in errors_of(harness.post_call(body))}

    assert pointers == {
        "/data/attributes/outcome",
        "/data/attributes/direction",
        "/data/relationships/user",
    }


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"data": 5}'])
def test_a_body_that_is_not_a_resource_document_is_422(harness: Harness, raw: bytes) -> None:
    response = harness.http.post("/api/v2/calls", content=raw, headers=harness.headers)

    assert response.status_code == 422
    assert errors_of(response)[0]["id"] == "validationError"


def test_required_relationships_are_a_tunable() -> None:
    harness = make(calls=40, required_relationships=())
    body = call_body(_prospect(harness), 1)
    del body["data"]["relationships"]["prospect"]

    assert harness.post_call(body).status_code == 201


def test_delete_answers_204_then_the_call_is_gone(harness: Harness) -> None:
    call = all_calls(harness)[0]

    deleted = harness.http.delete(f"/api/v2/calls/{call['id']}", headers=harness.headers)
    again = harness.http.delete(f"/api/v2/calls/{call['id']}", headers=harness.headers)

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert again.status_code == 404
    assert harness.get(f"/api/v2/calls/{call['id']}").status_code == 404


# --- admin helpers --------------------------------------------------------------------------


def test_an_edit_in_the_ui_bumps_updated_at_and_reaches_an_incremental_sync(
    harness: Harness,
) -> None:
    calls = all_calls(harness)
    watermark = max(c["attributes"]["updatedAt"] for c in calls)
    edited = calls[0]
    harness.clock.advance(90)

    harness.emulator.edit_call(edited["id"], {"note": "Edited in the UI", "callDisposition": 2})

    found = harness.get(
        "/api/v2/calls",
        {"filter[updatedAt][gte]": watermark, "newFilterSyntax": "true", "sort": "updatedAt"},
    ).json()["data"]
    record = next(r for r in found if r["id"] == edited["id"])
    assert record["attributes"]["updatedAt"] == iso(harness.clock.now())
    assert record["attributes"]["createdAt"] == edited["attributes"]["createdAt"]
    assert record["attributes"]["note"] == "Edited in the UI"
    assert record["relationships"]["callDisposition"]["data"]["id"] == 2
    with pytest.raises(ValueError, match="writable"):
        harness.emulator.edit_call(edited["id"], {"updatedAt": "2020-01-01T00:00:00.000Z"})


def test_a_deletion_in_the_ui_leaves_no_tombstone(harness: Harness) -> None:
    call = all_calls(harness)[0]

    assert harness.emulator.delete_call(call["id"]) is True

    pages = harness.walk(
        "/api/v2/calls",
        {"filter[updatedAt][gte]": SINCE, "newFilterSyntax": "true", "sort": "updatedAt"},
    )
    assert call["id"] not in {r["id"] for page in pages for r in page["data"]}
    assert harness.emulator.delete_call(call["id"]) is False


def test_a_call_logged_in_the_ui(harness: Harness) -> None:
    prospect = _prospect(harness)

    ident = harness.emulator.add_call(
        prospect_id=prospect,
        user_id=1,
        attributes={"outcome": "Not Answered", "from": "(415) 555-0100"},
        relationships={"callDisposition": 8},
    )

    record = harness.get(f"/api/v2/calls/{ident}").json()["data"]
    assert record["attributes"]["dialedAt"] is None  # a manual log: no call times
    assert record["attributes"]["from"] == "(415) 555-0100"
    assert record["relationships"]["callDisposition"]["data"]["id"] == 8
    by_prospect = harness.get("/api/v2/calls", {"filter[prospect][id]": str(prospect)}).json()
    assert ident in {r["id"] for r in by_prospect["data"]}
