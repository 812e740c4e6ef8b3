"""Small pieces of the Pipedrive connector on their own: budget, pacing, parsing, planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import ConnectorContext, Cursor
from connectors.pipedrive.budget import DailyBudget, token_cost
from connectors.pipedrive.client import ApiTokenAuth, burst_hint, credential_key, pacing
from connectors.pipedrive.cursor import ChangesProgress, SweepProgress, later, plan
from connectors.pipedrive.records import html_to_text, parse_time, record_key, to_call
from connectors.pipedrive.settings import PipedriveSettings
from connectors.pipedrive.sweep import align
from syncer.errors import BudgetExhaustedError, MappingFailure
from syncer.http import RateLimitHint
from syncer.mapping import load_tables
from syncer.model import Outcome

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def settings(**values: Any) -> PipedriveSettings:
    return PipedriveSettings(
        api_token=SecretStr("0123456789abcdef0123456789abcdef01234567"), **values
    )


# --- budget -------------------------------------------------------------------------------------


def test_documented_token_costs():
    assert token_cost("GET", "/api/v1/callLogs") == 20
    assert token_cost("GET", "/v1/callLogs") == 20
    assert token_cost("GET", "/api/v1/callLogs/CAd92b224eb4a39b5ad8fea92ff0e") == 2
    assert token_cost("GET", "/api/v2/activities") == 10
    assert token_cost("GET", "/api/v2/activities/7007") == 1
    assert token_cost("GET", "/api/v1/users/me") == 2
    assert token_cost("GET", "/api/v1/somethingElse") == 40  # unknown: never assumed cheap


def response(status: int, limit: str | None, remaining: str | None, path: str) -> httpx.Response:
    headers = {}
    if limit is not None:
        headers["x-daily-ratelimit-token-limit"] = limit
    if remaining is not None:
        headers["x-daily-ratelimit-token-remaining"] = remaining
    request = httpx.Request("GET", f"https://acme.pipedrive.com{path}")
    return httpx.Response(status, headers=headers, request=request)


def test_the_budget_keeps_the_reserve_for_other_integrations():
    budget = DailyBudget(share=0.25, clock=lambda: NOW)
    assert budget.charge("GET", "/api/v1/callLogs") == 1.0  # unknown yet: allowed, weight 1
    budget.observe(response(200, "30000", "22530", "/api/v1/callLogs"))
    assert budget.remaining == 22530
    budget.charge("GET", "/api/v1/callLogs")  # 22510 left, the reserve is 22500
    assert budget.remaining == 22510
    with pytest.raises(BudgetExhaustedError) as raised:
        budget.charge("GET", "/api/v1/callLogs")
    assert raised.value.resets_at == datetime(2026, 1, 6, tzinfo=UTC)
    budget.charge("GET", "/api/v2/activities")  # a cheaper request still fits: 22500 left
    assert budget.remaining == 22500


def test_missing_daily_headers_keep_the_estimate():
    budget = DailyBudget(share=0.5, clock=lambda: NOW)
    budget.observe(response(200, "30000", "20000", "/api/v1/callLogs"))
    budget.charge("GET", "/api/v1/callLogs")
    budget.observe(response(200, None, None, "/api/v1/callLogs"))
    assert budget.remaining == 19980


def test_a_budget_429_fails_fast_but_a_burst_429_does_not():
    budget = DailyBudget(share=1.0, clock=lambda: NOW)
    budget.observe(response(429, "30000", "5000", "/api/v1/callLogs"))  # a burst 429
    with pytest.raises(BudgetExhaustedError):
        budget.observe(response(429, "30000", "0", "/api/v2/activities"))
    with pytest.raises(BudgetExhaustedError):  # fewer tokens left than the request costs
        budget.observe(response(429, "30000", "12", "/api/v1/callLogs"))


def test_a_stored_estimate_counts_only_on_its_day():
    today = DailyBudget(share=0.5, clock=lambda: NOW)
    today.load({"day": "2026-01-05", "limit": 30000, "remaining": 15005})
    with pytest.raises(BudgetExhaustedError):
        today.ensure(10)
    tomorrow = DailyBudget(share=0.5, clock=lambda: NOW + timedelta(days=1))
    tomorrow.load({"day": "2026-01-05", "limit": 30000, "remaining": 15005})
    tomorrow.ensure(10)  # the vendor reset the budget at midnight
    assert tomorrow.snapshot() is None


# --- rate limits and the credential -------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "share"), [(20, 0.8), (20, 1.0), (40, 0.5), (120, 0.8), (2, 0.5)]
)
def test_pacing_keeps_every_2s_window_under_the_share(limit, share):
    rate, burst = pacing(settings(burst_limit=limit, burst_share=share))
    assert burst + rate * 2.0 <= max(1.0, limit * share) + 0.2  # the floor rate for tiny plans


def test_burst_headers_become_a_hint():
    headers = httpx.Headers(
        {"x-ratelimit-limit": "20", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"}
    )
    assert burst_hint(headers) == RateLimitHint(remaining=0, reset_after=2.0, limit=20)
    assert burst_hint(httpx.Headers({})) is None


def test_the_token_never_shows():
    token = SecretStr("0123456789abcdef0123456789abcdef01234567")
    assert token.get_secret_value() not in credential_key(token)
    assert token.get_secret_value() not in repr(ApiTokenAuth(token))
    assert token.get_secret_value() not in repr(settings())


# --- mapping ------------------------------------------------------------------------------------


def context() -> ConnectorContext:
    return ConnectorContext(
        name="pd", settings=settings(), table=load_tables()["pipedrive"], phone_region="US",
        state=None,  # type: ignore[arg-type]  # mapping never reads state
    )  # fmt: skip


def log(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "abc", "activity_id": 1, "user_id": 7, "outcome": "busy",
        "to_phone_number": "(415) 555-0199", "start_time": "2026-01-05 10:00:00",
        "end_time": "2026-01-05 10:00:09", "duration": "9",
    }  # fmt: skip
    return {**base, **fields}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-20 14:05:00", datetime(2024, 3, 20, 14, 5, tzinfo=UTC)),
        ("2024-03-20T14:05:00.000Z", datetime(2024, 3, 20, 14, 5, tzinfo=UTC)),
        ("2024-03-20T16:05:00+02:00", datetime(2024, 3, 20, 14, 5, tzinfo=UTC)),
        ("2024-03-20T14:05:00", datetime(2024, 3, 20, 14, 5, tzinfo=UTC)),
    ],
)
def test_both_time_forms_read_as_utc(text, expected):
    assert parse_time(text) == expected


def test_html_notes_become_text():
    assert html_to_text("<p>Hi &amp; bye</p><p>next<br>line</p>") == "Hi & bye\nnext\nline"
    assert html_to_text("<p></p>") is None
    assert html_to_text(None) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"start_time": None}, "start_time is missing"),
        ({"start_time": "yesterday"}, "start_time is not a date-time"),
        ({"outcome": "voicemail_dropped"}, "voicemail_dropped"),
        ({"duration": "1:23"}, "duration is not a number"),
        ({"user_id": {"id": 7}}, "user_id is not an id"),
    ],
)
def test_unmappable_call_logs_fail_with_a_reason(fields, reason):
    with pytest.raises(MappingFailure, match=reason):
        to_call({"call_log": log(**fields), "activity": None}, context())


def test_mapping_edge_values():
    call = to_call({"call_log": log(duration=None, outcome=None), "activity": None}, context())
    assert call.duration_seconds == 9  # from the start and end times
    assert call.outcome is Outcome.UNKNOWN
    assert call.direction is None  # no user profile: no own number to compare with
    with pytest.raises(MappingFailure):
        to_call({"call_log": "not an object"}, context())
    with pytest.raises(KeyError):
        record_key({"call_log": {"id": ""}})


# --- strategy pieces ----------------------------------------------------------------------------


def test_overlapping_pages_line_up_or_taint():
    page = [{"id": "b"}, {"id": "c"}, {"id": "d"}]
    assert align(page, None) == (page, True)
    assert align(page, "b") == (page[1:], True)  # the usual one-entry overlap
    assert align(page, "c") == (page[2:], True)  # entries inserted before: repeats dropped
    assert align(page, "a") == (page, False)  # "a" moved left past the offset: a skip is possible


def test_plan_sweeps_first_then_when_due_and_resumes_partials():
    config = settings(tail_overlap=10)
    first = plan(Cursor(), config, NOW, NOW)
    assert isinstance(first[1], SweepProgress) and first[1].start == 0
    recent = {
        "since": "2026-01-05T11:00:00Z", "swept_at": "2026-01-05T00:00:00Z", "tail": 120,
        "others": True,
    }  # fmt: skip
    assert plan(Cursor(recent), config, NOW, NOW)[1] == ChangesProgress(
        floor="2026-01-05T11:00:00Z", pos=110
    )
    # Other users' history never walked (a cursor from before ``other_users``, or the
    # setting just switched on): sweep now, not a day later.
    unwalked = {**recent, "others": False}
    assert isinstance(plan(Cursor(unwalked), config, NOW, NOW)[1], SweepProgress)
    off = settings(tail_overlap=10, other_users=False)
    assert isinstance(plan(Cursor(unwalked), off, NOW, NOW)[1], ChangesProgress)
    stale = {**recent, "swept_at": "2026-01-04T11:00:00Z"}
    assert isinstance(plan(Cursor(stale), config, NOW, NOW)[1], SweepProgress)
    partial = {"bookmark": recent, "sweep": {"started": "x", "seen_since": "y", "start": 99}}
    resumed = plan(Cursor(stale, partial), config, NOW, NOW)[1]
    assert isinstance(resumed, SweepProgress) and resumed.start == 99
    broken = {"bookmark": recent, "sweep": {"nonsense": 1}}
    assert isinstance(plan(Cursor(recent, broken), config, NOW, NOW)[1], ChangesProgress)


def test_later_ignores_unreadable_stamps():
    assert later("2026-01-05T10:00:00Z", "2026-01-05T09:00:00Z") == "2026-01-05T10:00:00Z"
    assert later(None, "garbage") is None
    assert later("2026-01-05T10:00:00.000Z", None) == "2026-01-05T10:00:00Z"
