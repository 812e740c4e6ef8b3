"""Helpers the Pipedrive write tests share: a seeded harness and connector, resolving and
writing a call, and shaping calls and persons for resolution cases."""

from __future__ import annotations

from typing import Any

from connectors.base import Resolved, WriteOptions
from connectors.pipedrive.connector import PipedriveConnector
from syncer.model import Call, PhoneNumber
from tests.connectors.pipedrive.harness import PipedriveHarness, make_harness

SEARCH = "GET /api/v2/persons/search"
LIST = "GET /v1/callLogs"
ACTIVITIES = "GET /api/v2/activities"


def ready(
    engine: Any, calls: int = 40, **options: Any
) -> tuple[PipedriveHarness, PipedriveConnector]:
    harness = make_harness(**options)
    harness.seed(calls)
    harness.settle()
    return harness, harness.connector(engine)


def resolved(connector: PipedriveConnector, call: Call) -> Resolved:
    result = connector.resolve(call, WriteOptions())
    assert isinstance(result, Resolved), result
    return result


def written(connector: PipedriveConnector, call: Call) -> str:
    return connector.create(call, call.call_uid, resolved(connector, call)).remote_id


def person_of(harness: PipedriveHarness, call: Call) -> dict[str, Any]:
    assert call.contact is not None and call.contact.email
    for stored in harness.emulator.store.persons.scan():
        if call.contact.email in [e["value"] for e in stored.doc["emails"]]:
            return stored.doc
    raise AssertionError(call.contact.email)


def with_contact(call: Call, **fields: Any) -> Call:
    assert call.contact is not None
    return call.model_copy(update={"contact": call.contact.model_copy(update=fields)})


def shared_line(harness: PipedriveHarness, number: str, *emails: str) -> list[int]:
    return [
        harness.emulator.add_person(f"Desk {i}", phones=[number], emails=[email])
        for i, email in enumerate(emails)
    ]


def main_line_call(harness: PipedriveHarness, email: str) -> Call:
    call = harness.unresolvable_call(4)  # an outbound call
    phone = PhoneNumber.parse("+12125550999")
    call = call.model_copy(update={"to_number": phone})
    return with_contact(call, phone=phone, email=email)
