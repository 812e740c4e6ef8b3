"""The Amplemarket write path against hand-written cassettes of the documented payloads.

Every request the write path sends (look-ups, ``POST /calls``, the read-back of ``update``,
dispositions, a recording) replays from ``cassettes/<test name>.yaml`` with the request BODY
matched, so the body of ``POST /calls`` is part of the contract. Replay only, no repeats;
credentials are REDACTED.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.amplemarket.connector import AmplemarketConnector
from connectors.amplemarket.settings import AmplemarketSettings
from connectors.base import (
    AccountLabel,
    CannotUpdate,
    ConnectorContext,
    Resolved,
    WriteOptions,
    Written,
)
from syncer import mapping
from syncer.errors import AmbiguousWriteError, VendorError
from syncer.http.ratelimit import PacerRegistry
from syncer.model import Call, Direction, Outcome, Party, PhoneNumber, SourceIdentity

CASSETTES = Path(__file__).parent / "cassettes"
NOW = datetime(2025, 10, 6, 16, 35, 41, tzinfo=UTC)
USER_ID = "0199ba5b-e2a1-7b40-8c2e-77aa01f3d902"
TASK_ID = "0199ba5b-e33a-7c11-9f00-5d1b2e4c8a10"
CONTACT_ID = "0199ba5b-e300-7a00-b111-2c3d4e5f6a7b"
LOGGED_ID = "0199ba60-f7c0-7a3c-9d21-4b6f0e8c2a57"
DIALER_ID = "0199ba5b-e387-7d61-8ae4-6ad9ce65f07b"
MARKER = "43a30661-292c-56ab-852e-e74f0d6bd595"  # the call_uid of fake:src:hubspot-42
RESOLVED = Resolved(
    {
        "user_id": USER_ID,
        "task_id": TASK_ID,
        "contact_id": CONTACT_ID,
        "contact_keyword": "jane@acme.com",
    }
)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    return {**vcr_config, "match_on": [*vcr_config["match_on"], "body"]}


class NoState:
    def get(self, keys):
        return {}


def make_connector(**settings: Any) -> AmplemarketConnector:
    waits: list[float] = []
    context = ConnectorContext(
        name="ample",
        settings=AmplemarketSettings(api_key="cassette-key-not-real", **settings),
        table=mapping.load_tables()["amplemarket"],
        phone_region="US",
        state=NoState(),
        sleep=waits.append,
        pacers=PacerRegistry(sleep=waits.append),
        clock=lambda: NOW,
    )
    return AmplemarketConnector(context)


@pytest.fixture
def connector():
    connector = make_connector(dispositions={"connected": "Interested"})
    yield connector
    connector.close()


def hubspot_call(**fields: Any) -> Call:
    """The §1.16 example call, as another system (say HubSpot) would hand it over."""
    base: dict[str, Any] = {
        "source": SourceIdentity(system="fake", connection="src", external_id="hubspot-42"),
        "started_at": datetime(2025, 10, 6, 16, 30, 8, tzinfo=UTC),
        "outcome": Outcome.CONNECTED,
        "direction": Direction.OUTBOUND,
        "from_number": PhoneNumber.parse("+14155550100"),
        "to_number": PhoneNumber.parse("+1 (415) 555-0199"),
        "duration_seconds": 184,
        "user": Party(email="rep@example.com"),
        "contact": Party(name="Jane Doe", email="jane@acme.com"),
        "note": "Asked for the pricing deck",  # no notes field on POST /calls: not sent
        "transcript": "Rep: Hi Jane ...",
        "recording_url": "https://recordings.example.com/call-123.mp3",
    }
    return Call(**{**base, **fields})


def test_marker_is_the_calls_uid():
    assert hubspot_call().call_uid == MARKER


@pytest.mark.vcr
def test_resolve_looks_up_user_number_and_task():
    connector = make_connector()

    assert connector.resolve(hubspot_call(), WriteOptions()) == RESOLVED


@pytest.mark.vcr
def test_create_posts_the_documented_body(connector):
    assert connector.create(hubspot_call(), MARKER, RESOLVED) == Written(LOGGED_ID)


@pytest.mark.vcr
def test_find_by_marker_asks_for_the_users_calls_to_the_number(connector):
    assert connector.find_by_marker(MARKER, hubspot_call()) == LOGGED_ID


@pytest.mark.vcr
@pytest.mark.default_cassette("test_find_by_marker_asks_for_the_users_calls_to_the_number")
def test_find_by_marker_adopts_no_dialer_call(connector):
    other = hubspot_call(source=SourceIdentity(system="fake", connection="src", external_id="x"))

    assert connector.find_by_marker(other.call_uid, other) is None


@pytest.mark.vcr
def test_update_reads_the_logged_call_back():
    connector = make_connector()
    connector.update(LOGGED_ID, hubspot_call(note="changed"), RESOLVED)  # not held: no-op


@pytest.mark.vcr
@pytest.mark.default_cassette("test_update_reads_the_logged_call_back")
def test_update_names_the_field_amplemarket_cannot_change():
    connector = make_connector()

    with pytest.raises(CannotUpdate) as cannot:
        connector.update(LOGGED_ID, hubspot_call(duration_seconds=200), RESOLVED)

    assert cannot.value.field == "duration_seconds"


@pytest.mark.vcr
def test_refused_task_is_a_vendor_error():
    connector = make_connector()

    with pytest.raises(VendorError) as refused:
        connector.create(hubspot_call(), MARKER, RESOLVED)

    assert refused.value.status == 404
    assert not isinstance(refused.value, AmbiguousWriteError)
    assert "Task not found" in str(refused.value)


@pytest.mark.vcr
def test_account_labels_list_the_dispositions(connector):
    assert list(connector.account_labels()) == [
        AccountLabel(
            "disposition", "0199ba5b-e20c-7dc1-9481-097d1256e75b", "Interested", "next_stage"
        ),
        AccountLabel(
            "disposition", "0199ba5b-e20c-7dc1-9481-097d1256e75c", "Not interested", "complete"
        ),
    ]


def dialer_call(call_id: str) -> Call:
    return hubspot_call(
        source=SourceIdentity(system="amplemarket", connection="ample", external_id=call_id),
        raw={"id": call_id, "external": False, "recording_url": "https://x.example/a.mp3"},
    )


@pytest.mark.vcr
def test_open_recording_streams_audio(connector):
    stream = connector.open_recording(dialer_call(DIALER_ID))
    assert stream is not None
    with stream as chunks:
        audio = b"".join(chunks)
    assert audio.startswith(b"ID3\x04")
    assert len(audio) == 54

    gone = connector.open_recording(dialer_call(DIALER_ID[:-1] + "c"))
    assert gone is not None
    with pytest.raises(VendorError, match="Call not found") as error, gone:
        pass
    assert error.value.status == 404
