"""The Outreach write path against hand-written cassettes of the documented payloads.

Every create, look-up, read and delete the write path sends is replayed with the request
BODY matched too (``match_on`` + ``body``), so the create payload is part of the contract.
Cassettes: ``cassettes/<test name>.yaml`` (credentials REDACTED), built from
shared/vendor-apis/amplemarket-outreach.md §2.3-§2.14; replay only, no repeats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import CannotUpdate, ConnectorContext, Resolved, WriteOptions
from connectors.outreach.connector import OutreachConnector
from connectors.outreach.settings import OutreachSettings
from syncer.errors import VendorError
from syncer.http.ratelimit import PacerRegistry
from syncer.model import (
    Call,
    Direction,
    Outcome,
    Party,
    PhoneNumber,
    SequenceAction,
    SourceIdentity,
)
from tests.connectors.outreach.harness import outreach_table
from tests.connectors.outreach.test_outreach_cassettes import MemoryTokens, NoState, valid_token

CASSETTES = Path(__file__).parent / "cassettes"
NOW = datetime(2025, 10, 6, 17, 0, tzinfo=UTC)
STARTED = datetime(2025, 10, 6, 16, 30, 8, tzinfo=UTC)
MARKER = "0199ba5b-e387-7d61-8ae4-6ad9ce65f07b"
LINKS = {"user": "7", "prospect": "4321", "phoneNumber": "5566", "callDisposition": "12",
         "callPurpose": "3"}  # fmt: skip


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture(scope="module")
def vcr_config(vcr_config):
    return {**vcr_config, "match_on": [*vcr_config["match_on"], "body"]}


@pytest.fixture
def connector():
    settings = OutreachSettings(
        client_id="cassette-client",
        client_secret="cassette-secret-not-real",
        refresh_token="cassette-refresh-not-real",
        dispositions={"connected": "Interested", "voicemail_left": "left  voicemail"},
        call_purpose="Prospecting",
    )
    waits: list[float] = []
    context = ConnectorContext(
        name="outreach",
        settings=settings,
        table=outreach_table(),
        phone_region="US",
        state=NoState(),
        tokens=MemoryTokens("cassette-refresh-not-real", valid_token()),
        sleep=waits.append,
        pacers=PacerRegistry(clock=lambda: 0.0, sleep=waits.append),
        clock=lambda: NOW,
    )
    connector = OutreachConnector(context)
    yield connector
    connector.close()


def the_call(**changes) -> Call:
    """The call of the documented create example, as it comes from Amplemarket."""
    values = {
        "source": SourceIdentity(system="amplemarket", connection="am", external_id="c-123"),
        "started_at": STARTED,
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "from_number": PhoneNumber.parse("+14155550100"),
        "to_number": PhoneNumber.parse("+1 415-555-0199"),
        "answered_at": STARTED + timedelta(seconds=6),
        "ended_at": STARTED + timedelta(seconds=190),
        "duration_seconds": 184,
        "sequence_action": SequenceAction.ADVANCE,
        "user": Party(email="Rep@Example.com"),
        "contact": Party(email="pat@example.com"),
        "note": "Asked for pricing deck",
        "recording_url": "https://recordings.example.com/call-123.mp3",
        "tags": ("Interested",),
    }
    return Call(**{**values, **changes})


@pytest.mark.vcr
def test_resolve_looks_up_the_user_the_number_and_the_labels(connector):
    assert connector.resolve(the_call(), WriteOptions()) == Resolved(LINKS)


@pytest.mark.vcr
def test_a_main_line_is_decided_by_the_contacts_email(connector):
    result = connector.resolve(the_call(), WriteOptions())
    assert result == Resolved({**LINKS, "prospect": "4322", "phoneNumber": "5567"})


@pytest.mark.vcr
def test_create_posts_the_documented_body(connector):
    assert connector.create(the_call(), MARKER, Resolved(LINKS)).remote_id == "987654"


@pytest.mark.vcr
def test_a_refused_create_is_a_vendor_error(connector):
    with pytest.raises(VendorError) as raised:
        connector.create(the_call(), MARKER, Resolved(LINKS))
    assert raised.value.status == 422


@pytest.mark.vcr
def test_find_by_marker_reads_the_pairs_calls(connector):
    assert connector.find_by_marker(MARKER, the_call()) == "987654"


@pytest.mark.vcr
def test_update_reads_the_call_and_names_what_differs(connector):
    with pytest.raises(CannotUpdate) as raised:
        connector.update("987654", the_call(), Resolved(LINKS))
    assert raised.value.field == "note"


@pytest.mark.vcr
def test_delete_sends_delete(connector):
    connector.delete("987654")
