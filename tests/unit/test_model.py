"""The canonical Call: strict, frozen, UTC-only, numbers normalised without losing the raw form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from syncer.model import Call, Outcome, PhoneNumber, SourceIdentity

SOURCE = SourceIdentity(system="close", connection="close-eu", external_id="acti_1")


def call(**fields) -> Call:
    return Call(**{"source": SOURCE, "started_at": datetime(2026, 1, 5, 9, tzinfo=UTC), **fields})


def test_naive_datetime_is_rejected():
    with pytest.raises(ValidationError, match="timezone"):
        call(started_at=datetime(2026, 1, 5, 9))


def test_datetimes_are_normalised_to_utc():
    paris = timezone(timedelta(hours=1))
    started = call(started_at=datetime(2026, 1, 5, 10, tzinfo=paris)).started_at
    assert started == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert started.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+1 123456789", "US", None),  # Amplemarket's doc example: too short to be a number
        ("+1 415-555-0199", "US", "+14155550199"),
        ("(415) 555-0199", "US", "+14155550199"),
        ("415.555.0199", "US", "+14155550199"),
        ("+37249234343", "US", "+37249234343"),
        ("030 1234567", "DE", "+49301234567"),
    ],
)
def test_phone_numbers_normalise_to_e164(raw, region, e164):
    number = PhoneNumber.parse(raw, region)
    assert number.raw == raw
    assert number.e164 == e164


def test_unparseable_number_is_kept_and_flagged():
    number = PhoneNumber.parse("call reception", "US")
    assert (number.raw, number.e164, number.valid) == ("call reception", None, False)
    assert call(to_number=number).to_number == number


def test_model_is_frozen_and_closed():
    made = call()
    with pytest.raises(ValidationError):
        made.outcome = Outcome.BUSY  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        call(disposition_colour="red")


def test_outcome_is_a_closed_enum():
    with pytest.raises(ValidationError):
        call(outcome="teleported")


def test_call_uid_is_stable_and_distinct_per_identity():
    assert call().call_uid == call(duration_seconds=5).call_uid
    other = SOURCE.model_copy(update={"connection": "close-us"})
    assert call(source=other).call_uid != call().call_uid


def test_content_hash_ignores_raw_payload_and_update_time():
    base = call(cost_cents=Decimal("2"), raw={"a": 1})
    newer_source = SOURCE.model_copy(update={"source_updated_at": datetime.now(UTC)})
    assert (
        base.content_hash()
        == call(cost_cents=Decimal("2"), raw={"b": 2}, source=newer_source).content_hash()
    )
    assert base.content_hash() != call(cost_cents=Decimal("3")).content_hash()


def test_json_round_trip():
    made = call(
        cost_cents=Decimal("2.5"), to_number=PhoneNumber.parse("(415) 555-0199"), tags=("a",)
    )
    assert Call.model_validate_json(made.model_dump_json()) == made


def test_negative_duration_is_rejected():
    with pytest.raises(ValidationError):
        call(duration_seconds=-1)
