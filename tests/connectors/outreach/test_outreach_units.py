"""Unit tests of the Outreach connector's pieces: window planning, link pinning, labels,
mapping failures and the token exchange (no emulator, no database)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors.base import ConnectorContext
from connectors.outreach.client import OutreachClient, credential_key, pinned
from connectors.outreach.cursor import Completed, Window, plan
from connectors.outreach.labels import LabelCatalog
from connectors.outreach.records import map_call
from connectors.outreach.settings import OutreachSettings
from syncer.errors import AuthError, MappingFailure, VendorError
from syncer.http.ratelimit import PacerRegistry
from syncer.model import Outcome
from tests.connectors.outreach.harness import outreach_table
from tests.connectors.outreach.test_outreach_cassettes import MemoryTokens, NoState

NOW = datetime(2026, 3, 2, 12, 0, 30, 250000, tzinfo=UTC)
WALL = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def settings(**overrides) -> OutreachSettings:
    values = {"client_id": "unit-client", "client_secret": "unit-secret"}
    return OutreachSettings(**{**values, "refresh_token": "unit-refresh", **overrides})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- planning windows -------------------------------------------------------------------------


def test_a_first_pull_is_a_sweep_of_everything_without_an_upper_bound():
    window = plan(None, settings(), NOW, WALL)
    assert window is not None
    assert (window.start, window.end, window.sweep_started) == (None, None, WALL)
    horizon = at("2026-03-02T11:58:30+00:00")  # now - 2 min, whole seconds
    assert window.done == Completed(horizon, horizon)
    assert ("filter[updatedAt][lte]", "2026-03-02T11:58:30.000Z") not in window.query(1000)


def test_an_incremental_window_is_bounded_on_both_sides():
    stored = Completed(at("2026-03-02T11:00:00+00:00"), at("2026-03-02T06:00:00+00:00"))
    window = plan(stored.to_json(), settings(), NOW, WALL)
    assert window is not None
    assert window.start == at("2026-03-02T10:55:00+00:00")  # minus the 5-minute look-back
    assert window.end == at("2026-03-02T11:58:30+00:00")
    assert window.sweep_started is None
    assert window.done == Completed(window.end, stored.swept_at)
    assert window.query(1000) == [
        ("count", "false"),
        ("filter[updatedAt][gte]", "2026-03-02T10:55:00.000Z"),
        ("filter[updatedAt][lte]", "2026-03-02T11:58:30.000Z"),
        ("newFilterSyntax", "true"),
        ("page[size]", "1000"),
        ("sort", "updatedAt"),
    ]


def test_a_sweep_comes_due_after_its_interval_and_starts_at_history_start():
    since = datetime(2025, 1, 1, tzinfo=UTC)
    stored = Completed(at("2026-03-02T11:00:00+00:00"), at("2026-03-01T11:58:30+00:00"))
    window = plan(stored.to_json(), settings(history_start=since), NOW, WALL)
    assert window is not None
    assert (window.start, window.end, window.sweep_started) == (since, None, WALL)
    assert window.done.swept_at == window.done.watermark == at("2026-03-02T11:58:30+00:00")


def test_without_sweeps_the_first_pull_is_an_ordinary_bounded_window():
    window = plan(None, settings(sweep_interval=None), NOW, WALL)
    assert window is not None
    assert (window.start, window.sweep_started) == (None, None)
    assert window.end == window.done.watermark
    assert window.done.swept_at is None


def test_a_cursor_from_the_future_plans_nothing_and_never_moves_back():
    future = Completed(at("2100-01-01T00:00:00+00:00"), at("2100-01-01T00:00:00+00:00"))
    assert plan(future.to_json(), settings(), NOW, WALL) is None
    ahead = Completed(at("2026-03-02T11:59:00+00:00"), at("2026-03-02T11:00:00+00:00"))
    window = plan(ahead.to_json(), settings(), NOW, WALL)
    assert window is not None and window.done.watermark == ahead.watermark


def test_windows_survive_a_json_round_trip():
    window = plan(None, settings(), NOW, WALL)
    assert window is not None
    assert Window.from_json(copy.deepcopy(window.to_json())) == window


# --- links ------------------------------------------------------------------------------------


def test_links_next_keeps_its_path_and_query_and_loses_its_host():
    link = "https://elsewhere.test/api/v2/calls?page%5Bafter%5D=eyJ9%3D&page%5Bsize%5D=1000"
    assert (
        pinned(link, "/api/v2/calls") == "/api/v2/calls?page%5Bafter%5D=eyJ9%3D&page%5Bsize%5D=1000"
    )
    with pytest.raises(VendorError, match="leaves"):
        pinned("https://api.outreach.io/api/v2/prospects?page%5Bsize%5D=1", "/api/v2/calls")


def test_the_pacer_key_fingerprints_the_credential():
    key = credential_key(settings())
    assert key.startswith("outreach:") and "unit-refresh" not in key and "unit-client" not in key
    assert key != credential_key(settings(refresh_token="another-grant"))


# --- labels -----------------------------------------------------------------------------------


def call(**relationships) -> dict:
    rels = {name: {"data": {"type": name, "id": ident}} for name, ident in relationships.items()}
    return {"type": "call", "id": 1, "relationships": rels}


def test_labels_are_read_once_and_again_only_for_an_unknown_id():
    reads: list[str] = []
    catalogs = {
        "callDispositions": [{"id": 12, "attributes": {"name": "Interested"}}],
        "callPurposes": [{"id": 3, "attributes": {"name": ""}}],
    }

    def fetch(path):
        reads.append(path)
        return iter(catalogs[path])

    labels = LabelCatalog(fetch)
    labels.prepare([call()])
    assert reads == []  # no page named a disposition or purpose: nothing to read
    labels.prepare([call(callDisposition=12, callPurpose=3)])
    labels.prepare([call(callDisposition=12)])
    assert reads == ["callDispositions", "callPurposes"]
    assert labels.label("callDisposition", "12").label == "Interested"
    assert labels.label("callPurpose", "3").label is None  # a blank name is no label
    catalogs["callDispositions"].append({"id": 14, "attributes": {"name": "Meeting Booked"}})
    labels.prepare([call(callDisposition=14)])
    labels.prepare([call(callDisposition=99)])  # unknown after the reload: no third read
    assert len(reads) == 4
    assert labels.label("callDisposition", "14").label == "Meeting Booked"
    assert labels.label("callDisposition", "99").label is None


# --- mapping ----------------------------------------------------------------------------------


def context() -> ConnectorContext:
    return ConnectorContext(
        name="unit", settings=settings(), table=outreach_table(), phone_region="US",
        state=NoState(),
    )  # fmt: skip


def record(**attributes) -> dict:
    base = {
        "createdAt": "2026-03-02T10:00:00.000Z", "updatedAt": "2026-03-02T10:05:00.000Z",
        "outcome": "Not Answered", "direction": "outbound",
    }  # fmt: skip
    return {"type": "call", "id": 5, "attributes": {**base, **attributes}, "relationships": {}}


def mapped(raw: dict):
    return map_call(raw, context(), LabelCatalog(lambda path: iter(())))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (record(createdAt=None), "no dialedAt, answeredAt or createdAt"),
        (record(dialedAt="yesterday"), "dialedAt: not a timestamp"),
        (record(direction="sideways"), "'sideways' is not in the mapping"),
        (record(outcome="Voicemail"), "'Voicemail' is not in the mapping"),
        (record(sequenceAction="Pause"), "'Pause' is not in the mapping"),
        (record(tags="Interested"), "tags is not a list of strings"),
        (record(note=42), "note: expected a string"),
        ({"type": "call", "attributes": {}}, "the call has no id"),
        ({"type": "prospect", "id": 5}, "not an Outreach call resource"),
        ({**record(), "attributes": ["a"]}, "attributes is not an object"),
    ],
)
def test_unmappable_records_say_why(raw, reason):
    with pytest.raises(MappingFailure) as failure:
        mapped(raw)
    assert reason in failure.value.reason


def test_a_failed_call_without_disposition_is_failed_and_blanks_are_unset():
    call = mapped(record(state="failed", vendorCallId="", externalVendor="", note=""))
    assert call.outcome is Outcome.FAILED
    assert call.note is None


def test_duration_needs_both_ends_and_never_goes_negative():
    answered = {"answeredAt": "2026-03-02T10:00:10.000Z"}
    assert mapped(record(**answered, completedAt="2026-03-02T10:01:00.000Z")).duration_seconds == 50
    assert mapped(record(**answered)).duration_seconds is None
    backwards = mapped(record(**answered, completedAt="2026-03-02T10:00:00.000Z"))
    assert backwards.duration_seconds is None
    assert mapped(record()).started_at == datetime(2026, 3, 2, 10, tzinfo=UTC)  # createdAt


# --- the token exchange -----------------------------------------------------------------------


def token_client(handler, **overrides) -> tuple[OutreachClient, MemoryTokens]:
    tokens = MemoryTokens("unit-refresh")
    ctx = ConnectorContext(
        name="unit", settings=settings(**overrides), table=outreach_table(), phone_region="US",
        state=NoState(), tokens=tokens, transport=httpx.MockTransport(handler),
        sleep=lambda _s: None, pacers=PacerRegistry(sleep=lambda _s: None), clock=lambda: NOW,
    )  # fmt: skip
    return OutreachClient(ctx, settings(**overrides)), tokens


def test_the_refresh_token_is_exchanged_form_encoded_and_the_new_one_kept():
    sent: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/oauth/token":
            body = {"access_token": "a1", "refresh_token": "r2", "expires_in": 7200}
            return httpx.Response(200, json=body)
        assert request.headers["authorization"] == "Bearer a1"
        return httpx.Response(200, json={"data": [], "links": {}})

    client, tokens = token_client(vendor, redirect_uri="https://cb.example/oauth")
    client.first_page("calls", [("page[size]", "1")])
    exchange = sent[0]
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(exchange.content.decode())) == {
        "grant_type": "refresh_token", "refresh_token": "unit-refresh",
        "client_id": "unit-client", "client_secret": "unit-secret",
        "redirect_uri": "https://cb.example/oauth",
    }  # fmt: skip
    assert sent[1].headers["content-type"] == "application/vnd.api+json"
    assert (tokens.refresh, tokens.token.expires_at) == ("r2", NOW + timedelta(hours=2))


def test_a_dead_refresh_token_is_an_auth_error_that_names_no_secret():
    def vendor(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": "no"})

    client, _ = token_client(vendor)
    with pytest.raises(AuthError) as raised:
        client.first_page("calls", [])
    assert "invalid_grant" in str(raised.value)
    assert "unit-refresh" not in str(raised.value) and "unit-secret" not in str(raised.value)
