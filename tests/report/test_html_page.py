"""The HTML page escapes every text it shows (rep emails and reasons come from vendors)."""

from __future__ import annotations

from datetime import UTC, datetime

from syncer.report.html import page
from syncer.report.model import (
    REASONS,
    CoverageReport,
    Missing,
    RepStats,
    RouteCoverage,
    TargetCoverage,
    ToolCalls,
)

HOSTILE = '<script>alert("x")</script>'


def test_text_from_the_database_is_escaped_in_tables_and_charts():
    missing = tuple(
        Missing(r, 1 if r == "parked" else 0, (HOSTILE,) if r == "parked" else ()) for r in REASONS
    )
    rep = RepStats(HOSTILE, 2, {"connected": 1, "no_answer": 1})
    report = CoverageReport(
        generated_at=datetime(2026, 3, 2, tzinfo=UTC),
        since=None,
        until=None,
        route_from=None,
        tools=(ToolCalls("close", "close", 2, {"connected": 1, "no_answer": 1}, (rep,)),),
        routes=(
            RouteCoverage(
                "ample -> close", "ample", 3, 2, (TargetCoverage("close", 2, 0, missing),)
            ),
        ),
        lags=(),
    )
    html = page(report)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html  # in the tables
