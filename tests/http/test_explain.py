"""Failures told so a person can act on them: the vendor's own message out of its error body,
and the address that did not answer under a connector's own "unavailable" error."""

from __future__ import annotations

import json

import httpx
import pytest

from syncer.errors import AuthError, TransientError
from syncer.http.explain import explain, vendor_message
from tests.http.test_client import FakeTime, client_for, scripted

# What each vendor's API (and emulator) answers to a wrong key, and the part a person needs.
REFUSALS = [
    ({"errors": [{"code": "unauthorized", "detail": "Invalid API key"}]}, "Invalid API key"),
    (
        {"error": "invalid_client", "error_description": "Client authentication failed."},
        "invalid_client: Client authentication failed.",
    ),
    ({"error": "The API key is missing or invalid."}, "The API key is missing or invalid."),
    (
        {"success": False, "error": "unauthorized access", "error_info": "See the docs."},
        "unauthorized access",
    ),
]


@pytest.mark.parametrize(("body", "message"), REFUSALS)
def test_a_refusal_carries_the_vendors_own_message(body, message):
    handler, _ = scripted(httpx.Response(401, json=body))
    with client_for(handler, FakeTime()) as client, pytest.raises(AuthError) as refused:
        client.request("GET", "/calls")
    assert refused.value.status == 401
    assert str(refused.value) == f"acme answered 401: credentials rejected: {message}"


def test_a_body_that_is_no_json_is_shown_from_its_start():
    assert vendor_message("<html>\nUnauthorized</html>") == "<html> Unauthorized</html>"
    assert vendor_message(json.dumps({"unrelated": 1})) == '{"unrelated": 1}'


def _wrapped(cause: Exception, message: str, *, suppressed: bool) -> TransientError:
    """``message`` raised while handling ``cause``, as the connectors do."""
    with pytest.raises(TransientError) as info:
        try:
            raise cause
        except Exception as error:
            if suppressed:
                raise TransientError(message) from None
            raise TransientError(message) from error
    return info.value


def test_a_timeout_under_a_connectors_error_names_the_address_not_the_query():
    """The connectors turn a spent network error into their own (``raise ... from None``):
    the address is still found, and never the query string, which may hold a credential."""
    handler, calls = scripted(*(httpx.ReadTimeout("timed out") for _ in range(6)))
    with client_for(handler, FakeTime()) as client, pytest.raises(httpx.ReadTimeout) as spent:
        client.request("GET", "/v1/callLogs", params={"api_token": "s3cret-token"})
    assert len(calls) == 6  # every attempt timed out
    wrapped = _wrapped(spent.value, "acme GET /v1/callLogs: ReadTimeout", suppressed=True)
    told = explain(wrapped)
    assert told == "acme GET /v1/callLogs: ReadTimeout (no answer from https://api.acme.test)"
    assert "s3cret-token" not in told


def test_an_error_that_names_its_address_already_is_not_told_twice():
    refused = httpx.ConnectError("refused", request=httpx.Request("GET", "http://127.0.0.1:9/x"))
    wrapped = _wrapped(refused, "acme at http://127.0.0.1:9: giving up", suppressed=False)
    assert explain(wrapped) == "acme at http://127.0.0.1:9: giving up"
    assert explain(ValueError("plain")) == "plain"
