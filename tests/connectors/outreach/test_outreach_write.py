"""The Outreach write path against the emulator (both database backends): resolution,
create, marker look-up, lost answers, update and delete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from connectors.base import CannotUpdate, Parked, Resolved, WriteOptions, WriteSupport
from connectors.emulation import FaultKind
from connectors.outreach.connector import OutreachConnector
from syncer.errors import AmbiguousWriteError
from syncer.model import Call, Outcome, Party, PhoneNumber
from tests.connectors.outreach.harness import OutreachHarness, make_harness, outreach_table

# --- against the emulator ------------------------------------------------------------------


class Wire(httpx.BaseTransport):
    """Notes every API request (not token exchanges) in ``sent``."""

    def __init__(self, inner: httpx.BaseTransport, sent: list[str]) -> None:
        self.inner = inner
        self.sent = sent

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/oauth/token":
            self.sent.append(f"{request.method} {request.url.path}")
        return self.inner.handle_request(request)


@pytest.fixture
def harness() -> OutreachHarness:
    harness = make_harness()
    harness.seed(80)
    return harness


@pytest.fixture
def sent(harness) -> list[str]:
    """The requests of every connector the harness builds, in order."""
    requests: list[str] = []
    harness.wrap = lambda transport: Wire(transport, requests)
    return requests


@pytest.fixture
def connector(harness, engine, sent) -> Iterator[OutreachConnector]:
    connector = harness.connector(engine)
    yield connector
    connector.close()


def resolved(connector: OutreachConnector, call: Call, **options) -> Resolved:
    result = connector.resolve(call, WriteOptions(**options))
    assert isinstance(result, Resolved), result
    return result


def write(connector: OutreachConnector, call: Call) -> str:
    return connector.create(call, call.call_uid, resolved(connector, call)).remote_id


def test_write_support_says_create_and_delete_only():
    assert OutreachConnector.write_support == WriteSupport(create=True, delete=True)


def test_a_writable_call_resolves_to_the_seeded_ids(harness, connector):
    call = harness.writable_call(0)
    links = resolved(connector, call).links
    prospect = harness.emulator.store.prospects.get(int(links["prospect"]))
    user = harness.emulator.store.users.get(int(links["user"]))
    assert call.contact.email in prospect["attributes"]["emails"]
    assert user["attributes"]["email"] == call.user.email
    assert links["callDisposition"] is not None  # "Answered - Interested"
    assert links["callPurpose"] is not None  # "Prospecting"


def test_look_ups_are_cached_in_the_database(harness, connector, engine, sent):
    call = harness.writable_call(1)
    first = resolved(connector, call)
    labels = ["GET /api/v2/callDispositions", "GET /api/v2/callPurposes"]
    assert sent == ["GET /api/v2/users", "GET /api/v2/phoneNumbers", *labels]
    del sent[:]
    fresh = harness.connector(engine)  # another run: identities come from the database
    assert resolved(fresh, call) == first
    assert sent == labels  # label lists are read once per connector instance
    fresh.close()


def test_nobody_on_the_number_parks_the_call_with_the_number(harness, connector):
    call = harness.unresolvable_call(3)
    result = connector.resolve(call, WriteOptions())
    assert result == Parked(
        "no Outreach prospect with +13035557003 or new.person3@unknown-co.example"
    )


def test_create_missing_contacts_parks_saying_prospects_cannot_be_created(harness, connector):
    result = connector.resolve(harness.unresolvable_call(0), WriteOptions(True))
    assert isinstance(result, Parked)
    assert "+13035557000" in result.reason
    assert "cannot create Outreach prospects" in result.reason


def test_a_prospect_added_later_resolves_once_the_miss_expires(harness, connector):
    call = harness.unresolvable_call(1)
    assert isinstance(connector.resolve(call, WriteOptions()), Parked)
    harness.make_resolvable(call)
    links = resolved(connector, call).links
    assert links["prospect"] is not None


def test_a_missing_user_parks(harness, connector):
    call = harness.writable_call(0).model_copy(update={"user": Party(email="gone@x.test")})
    assert connector.resolve(call, WriteOptions()) == Parked(
        "no Outreach user with email gone@x.test"
    )
    nobody = call.model_copy(update={"user": None})
    assert "no user email" in connector.resolve(nobody, WriteOptions()).reason


def main_line(harness: OutreachHarness) -> tuple[int, int]:
    """Two prospects on one switchboard number, as typed in two different ways."""
    add = harness.emulator.add_prospect
    first = add(first_name="Ann", last_name="Main", emails=["ann@switch.example"],
                phones={"workPhones": ["(212) 555-0900"]})  # fmt: skip
    second = add(first_name="Bo", last_name="Main", emails=["bo@switch.example"],
                 phones={"workPhones": ["+1 212-555-0900"]})  # fmt: skip
    return first, second


def to_main_line(harness: OutreachHarness, email: str | None) -> Call:
    call = harness.writable_call(0)
    number = PhoneNumber.parse("+12125550900")
    return call.model_copy(update={"to_number": number,
                                   "contact": Party(email=email, phone=number)})  # fmt: skip


def test_a_main_line_is_decided_by_the_contacts_email(harness, connector):
    _, second = main_line(harness)
    links = resolved(connector, to_main_line(harness, "Bo@Switch.example")).links
    assert links["prospect"] == str(second)


def test_a_main_line_without_a_telling_email_parks_with_the_candidates(harness, connector):
    first, second = main_line(harness)
    for email in ("someone@else.example", None):
        result = connector.resolve(to_main_line(harness, email), WriteOptions())
        assert isinstance(result, Parked)
        assert "2 Outreach prospects share +12125550900" in result.reason
        assert result.candidates == (str(first), str(second))


def test_without_a_number_the_email_finds_the_prospect(harness, connector):
    call = harness.writable_call(2)
    call = call.model_copy(update={"to_number": None, "from_number": None,
                                   "contact": Party(email=call.contact.email)})  # fmt: skip
    links = resolved(connector, call).links
    assert links["prospect"] is not None
    assert links["phoneNumber"] is None


def test_an_unknown_configured_disposition_parks_naming_the_orgs(harness, engine):
    harness.settings = {"dispositions": {"connected": "Talked"}}
    connector = harness.connector(engine)
    result = connector.resolve(harness.writable_call(0), WriteOptions())
    assert isinstance(result, Parked)
    assert "disposition 'Talked' (for connected) is not in the Outreach org" in result.reason
    assert "'Meeting Booked'" in result.reason
    connector.close()


def test_create_then_find_by_marker_finds_it(harness, connector, sent):
    call = harness.writable_call(4)
    before = harness.remote_count()
    remote_id = write(connector, call)
    assert harness.remote_count() == before + 1
    stored = harness.emulator.call(int(remote_id))
    assert stored["attributes"]["vendorCallId"] == call.call_uid
    assert stored["attributes"]["externalVendor"] == "callsync"
    del sent[:]
    assert connector.find_by_marker(call.call_uid, call) == remote_id
    assert sent == ["GET /api/v2/calls"]  # one list, identities from the cache


def test_a_written_call_reads_back_with_its_round_trip_fields(harness, connector):
    table = outreach_table()
    for index in range(4):
        call = harness.writable_call(index)
        back = connector.to_call(harness.emulator.call(int(write(connector, call))))
        for name in harness.round_trip_fields():
            expected = getattr(call, name)
            if name == "outcome":
                expected = table.read("outcome", table.write("outcome", expected))
            assert getattr(back, name) == expected, name


def test_a_disposition_refines_what_the_binary_outcome_loses(harness, connector):
    call = harness.writable_call(0).model_copy(update={"outcome": Outcome.VOICEMAIL_LEFT})
    back = connector.to_call(harness.emulator.call(int(write(connector, call))))
    assert back.raw["attributes"]["outcome"] == "Not Answered"
    assert back.disposition.label == "Left Voicemail"
    assert back.outcome is Outcome.VOICEMAIL_LEFT  # with the read-side disposition mapping


def test_an_uncreated_call_is_not_found(harness, connector, sent):
    call = harness.writable_call(5)
    resolved(connector, call)
    del sent[:]
    assert connector.find_by_marker(call.call_uid, call) is None
    assert sent == ["GET /api/v2/calls", "GET /api/v2/calls"]  # pair, then time window


def test_a_lost_answer_is_ambiguous_and_the_marker_finds_the_commit(harness, connector, sent):
    call = harness.writable_call(6)
    links = resolved(connector, call)
    before = harness.remote_count()
    harness.faults.script(FaultKind.DROP_AFTER_COMMIT, method="POST", path=harness.create_path())
    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, links)
    assert sent.count("POST /api/v2/calls") == 1  # never resent
    assert harness.remote_count() == before + 1
    found = connector.find_by_marker(call.call_uid, call)
    assert found is not None
    assert harness.emulator.call(int(found))["attributes"]["vendorCallId"] == call.call_uid


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_on_create_is_ambiguous_and_not_retried(harness, connector, sent, status):
    call = harness.writable_call(7)
    links = resolved(connector, call)
    harness.faults.script(FaultKind.SERVER_ERROR, method="POST", path=harness.create_path(),
                          status=status)  # fmt: skip
    with pytest.raises(AmbiguousWriteError):
        connector.create(call, call.call_uid, links)
    assert sent.count("POST /api/v2/calls") == 1
    assert connector.find_by_marker(call.call_uid, call) is None


def test_the_marker_is_found_when_the_prospect_changed_since(harness, connector):
    call = harness.writable_call(8)
    remote_id = write(connector, call)
    other = harness.emulator.add_prospect(first_name="X", last_name="Y")
    harness.emulator.edit_call(int(remote_id), {"prospect": other})  # merged in Outreach
    assert connector.find_by_marker(call.call_uid, call) == remote_id


def test_update_of_an_unchanged_call_is_a_no_op(harness, connector):
    call = harness.writable_call(9)
    links = resolved(connector, call)
    remote_id = connector.create(call, call.call_uid, links).remote_id
    connector.update(remote_id, call, links)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"note": "Changed in the source"}, "note"),
        ({"outcome": Outcome.NO_ANSWER}, "outcome"),
        ({"ended_at": datetime(2026, 1, 4, 15, 10, tzinfo=UTC)}, "ended_at"),
        ({"tags": ()}, "tags"),
    ],
)
def test_update_names_the_first_field_outreach_cannot_change(harness, connector, change, field):
    call = harness.writable_call(10)
    links = resolved(connector, call)
    remote_id = connector.create(call, call.call_uid, links).remote_id
    with pytest.raises(CannotUpdate) as raised:
        connector.update(remote_id, call.model_copy(update=change), links)
    assert raised.value.field == field


def test_delete_removes_the_call_and_tolerates_a_second_time(harness, connector):
    call = harness.writable_call(11)
    remote_id = write(connector, call)
    before = harness.remote_count()
    connector.delete(remote_id)
    assert harness.remote_count() == before - 1
    assert harness.emulator.call(int(remote_id)) is None
    connector.delete(remote_id)


def test_account_labels_list_dispositions_outcomes_and_purposes(connector):
    labels = connector.account_labels()
    kinds = {label.kind for label in labels}
    assert kinds == {"disposition", "outcome", "purpose"}
    voicemail = next(label for label in labels if label.label == "Left Voicemail")
    assert (voicemail.kind, voicemail.detail) == ("disposition", "Not Answered")
    assert [lbl.label for lbl in labels if lbl.kind == "outcome"] == ["Answered", "Not Answered"]
    assert {lbl.label for lbl in labels if lbl.kind == "purpose"} >= {"Prospecting"}


def test_every_canonical_outcome_is_accepted_by_outreach(harness, connector):
    for index, outcome in enumerate(Outcome):
        call = harness.writable_call(20 + index).model_copy(update={"outcome": outcome})
        assert write(connector, call)
