"""The Close write path against hand-written cassettes, request bodies included.

Cassettes (``cassettes/<test name>.yaml``) follow close-pipedrive.md §1.6 (create/update/delete),
§1.7 (outcomes), §1.13 (the documented create request and call object) and the look-ups the
emulator documents (``GET /user/``, Advanced Filtering ``POST /data/search/``, ``POST /lead/``).
Requests are matched on their JSON body too, so the write payload is part of the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import ConnectorContext, JsonDict, Parked, Resolved, WriteOptions
from connectors.close.connector import CloseConnector
from connectors.close.settings import CloseSettings
from syncer import mapping
from syncer.http.ratelimit import PacerRegistry
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity

BODY_MATCH = ["method", "scheme", "host", "port", "path", "query", "body"]
USER = "user_N6KhMpzHRCYQHdn4gRNIFNN5JExnsrprKA6ekxM63XA"
LEAD = "lead_fioU1Nk5LC0H0iei9XBGHW2CFZU0yeP2zZCJQP9pC4m"
CONTACT = "cont_bulY73zoaAwTCLdjHrKzGkzZ942OwtEelJR7kNku9RK"
OUTCOME = "outcome_031uY9IKV1JxfNKM9n2qCw"
CALL_ID = "acti_Ay0QqN91HKAHVQUesISYV8QlhDobGfWb1Ui3TLogged"
NEW_LEAD = "lead_s6vHFTK1TSRoH6otXOexWDO9jM4xyb1kELHDoUNewLd"
NEW_CONTACT = "cont_q4xYmlGhA3060dEl0NDJuHRxPMuVjqLn30AFSzNewCt"
STARTED = datetime(2024, 3, 20, 14, 5, tzinfo=UTC)


class NoState:
    def get(self, keys: Sequence[str]) -> dict[str, JsonDict]:
        return {}


def make_connector(**settings: Any) -> CloseConnector:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    values = {"api_key": "cassette-test-key", "outcomes": {"connected": "Interested"}, **settings}
    context = ConnectorContext(
        name="close-cassette",
        settings=CloseSettings.model_validate(values),
        table=mapping.load_tables()["close"],
        phone_region="US",
        state=NoState(),
        sleep=sleep,
        pacers=PacerRegistry(clock=lambda: clock[0], sleep=sleep),
        clock=lambda: datetime(2024, 3, 21, 10, 0, tzinfo=UTC),
    )
    return CloseConnector(context)


def outreach_call(**changes: Any) -> Call:
    """The documented create example (§1.13) as the canonical call it was synced from."""
    rep, lead = PhoneNumber.parse("+16505556666"), PhoneNumber.parse("+16505551234")
    call = Call(
        source=SourceIdentity(system="outreach", connection="outreach", external_id="12345"),
        started_at=STARTED,
        ended_at=STARTED + timedelta(seconds=153),
        duration_seconds=153,
        outcome=Outcome.CONNECTED,
        direction=Direction.OUTBOUND,
        from_number=rep,
        to_number=lead,
        user=Party(name="Jane Rep", email="Jane.Rep@example.com", phone=rep),
        contact=Party(name="Bob Buyer", email="bob@buyer.example", phone=lead),
        note="Synced from Outreach (call 12345)",
        recording_url="https://recordings.example.com/12345.mp3",
    )
    return call.model_copy(update=changes)


LINKS = {"user_id": USER, "lead_id": LEAD, "contact_id": CONTACT, "outcome_id": OUTCOME}


@pytest.mark.vcr(match_on=BODY_MATCH)
def test_resolution_finds_the_user_the_contact_and_the_outcome(vcr):
    connector = make_connector()
    assert connector.resolve(outreach_call(), WriteOptions()) == Resolved(links=LINKS)
    assert vcr.all_played


@pytest.mark.vcr(match_on=BODY_MATCH)
def test_a_missing_person_becomes_a_new_lead_only_when_allowed(vcr):
    connector = make_connector()
    call = outreach_call(outcome=Outcome.NO_ANSWER)
    parked = connector.resolve(call, WriteOptions())
    assert parked == Parked("no Close person with +16505551234 or bob@buyer.example")
    links = {"user_id": USER, "lead_id": NEW_LEAD, "contact_id": NEW_CONTACT, "outcome_id": None}
    fresh = make_connector()  # a new run whose miss cache is empty again (no database here)
    created = fresh.resolve(call, WriteOptions(create_missing_contacts=True))
    assert created == Resolved(links=links)
    assert vcr.all_played


@pytest.mark.vcr(match_on=BODY_MATCH)
def test_create_posts_the_documented_body_and_the_marker_finds_it(vcr):
    connector = make_connector()
    call = outreach_call()
    written = connector.create(call, call.call_uid, Resolved(links=LINKS))
    assert written.remote_id == CALL_ID
    assert connector.find_by_marker(call.call_uid, call) == CALL_ID
    other = outreach_call(source=call.source.model_copy(update={"external_id": "12346"}))
    assert connector.find_by_marker(other.call_uid, other) is None  # same instant, other marker
    assert vcr.all_played


@pytest.mark.vcr(match_on=BODY_MATCH)
def test_update_puts_only_the_changed_fields_and_delete_deletes(vcr):
    connector = make_connector()
    call = outreach_call(note="Discussed pricing; sending a quote", duration_seconds=160)
    connector.update(CALL_ID, call, Resolved(links=LINKS))
    connector.delete(CALL_ID)
    assert vcr.all_played
