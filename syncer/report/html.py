"""The coverage report as one self-contained HTML page: plotly charts and the same tables as
the terminal. plotly.js is embedded once, inline, so the page opens with no network. Every
text from the database is escaped (rep emails and reasons come from vendors).

A tiny script records script errors and unhandled rejections in
``document.body.dataset.scriptErrors``, so a headless browser test can tell a page that drew
from one that broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from syncer.report import terminal
from syncer.report.model import LABELS, REASONS, CoverageReport, RouteCoverage

if TYPE_CHECKING:
    import plotly.graph_objects as go

_ERRORS_SCRIPT = """<script>
(function () {
  var seen = [];
  function note(what) {
    seen.push(String(what));
    document.body.dataset.scriptErrors = seen.join("\\n");
  }
  window.onerror = function (message, source, line) {
    note(message + " at " + source + ":" + line);
  };
  window.addEventListener("unhandledrejection", function (event) { note(event.reason); });
})();
</script>"""

_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
td.n { text-align: right; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
.chart { width: 100%; max-width: 1000px; height: 420px; }
</style>"""

_COMPLETE_COLOURS = {"written": "#2ca02c", "linked": "#98df8a"}
_REASON_COLOURS = {
    "parked": "#ff7f0e",
    "in_doubt": "#9467bd",
    "failed": "#d62728",
    "filtered": "#7f7f7f",
    "stale": "#8c564b",
    "quarantined": "#e377c2",
    "skipped": "#c7c7c7",
    "not_attempted": "#1f77b4",
}


class _Charts:
    """Figures as HTML fragments: plotly.js goes in with the first, inline, once."""

    def __init__(self) -> None:
        self.count = 0

    def render(self, name: str, figure: go.Figure) -> str:
        self.count += 1
        figure.update_layout(template="plotly_white", barmode=figure.layout.barmode or "group")
        fragment = figure.to_html(
            full_html=False,
            include_plotlyjs=self.count == 1,
            div_id=f"plot-{self.count}",
            config={"displayModeBar": False, "responsive": True},
        )
        label = escape(name)
        return f'<div class="chart" id="chart-{self.count}" data-chart="{label}">{fragment}</div>'


def _figure() -> go.Figure:
    # plotly is imported when a page is drawn: every other command starts without it.
    import plotly.graph_objects as go

    return go.Figure()


def write_html(report: CoverageReport, path: Path | str) -> None:
    Path(path).write_text(page(report), encoding="utf-8")


def page(report: CoverageReport) -> str:
    charts = _Charts()
    parts = [f"<h1>{escape(terminal.heading(report))}</h1>"]
    parts += _routes(report, charts)
    parts += _tools(report, charts)
    parts += _reps(report, charts)
    parts += _lags(report, charts)
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>callsync report</title>{_STYLE}</head>\n"
        f'<body data-script-errors="">\n{_ERRORS_SCRIPT}\n{body}\n</body></html>\n'
    )


def _table(caption: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in header)
    lines = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{cell}</td>'
            if isinstance(cell, int)
            else f"<td>{escape(str(cell))}</td>"
            for cell in row
        )
        lines.append(f"<tr>{cells}</tr>")
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def _route_figure(route: RouteCoverage) -> go.Figure:
    names = [target.target for target in route.targets]
    figure = _figure()
    for part in ("written", "linked"):
        counts = [getattr(target, part) for target in route.targets]
        colour = _COMPLETE_COLOURS[part]
        figure.add_bar(x=names, y=counts, name=f"complete: {part}", marker_color=colour)
    for reason in REASONS:
        counts = [target.missing_count(reason) for target in route.targets]
        if any(counts):
            colour = _REASON_COLOURS[reason]
            figure.add_bar(x=names, y=counts, name=LABELS[reason], marker_color=colour)
    figure.update_layout(barmode="stack", title=f"route {route.route}", yaxis_title="calls")
    return figure


def _routes(report: CoverageReport, charts: _Charts) -> list[str]:
    parts = ["<h2>Coverage per route</h2>"]
    header = ["target", "complete", "written", "linked", *(LABELS[r] for r in REASONS)]
    for route in report.routes:
        parts.append(charts.render(f"route {route.route}", _route_figure(route)))
        rows = [
            [t.target, t.complete, t.written, t.linked, *(t.missing_count(r) for r in REASONS)]
            for t in route.targets
        ]
        parts.append(_table(terminal.route_title(route), header, rows))
    examples = [
        [route.route, target.target, LABELS[m.reason], m.count, ", ".join(m.examples)]
        for route in report.routes
        for target in route.targets
        for m in target.missing
        if m.count
    ]
    if examples:
        header = ["route", "target", "reason", "calls", "examples"]
        parts.append(_table("missing calls, for example", header, examples))
    return parts


def _tools(report: CoverageReport, charts: _Charts) -> list[str]:
    parts = ["<h2>Calls per tool</h2>"]
    outcomes = sorted({outcome for tool in report.tools for outcome in tool.outcomes})
    if outcomes:
        figure = _figure()
        names = [tool.connection for tool in report.tools]
        for outcome in outcomes:
            counts = [tool.outcomes.get(outcome, 0) for tool in report.tools]
            figure.add_bar(x=names, y=counts, name=outcome.replace("_", " "))
        figure.update_layout(barmode="stack", title="outcome mix per tool", yaxis_title="calls")
        parts.append(charts.render("outcome mix per tool", figure))
    rows = [
        [t.connection, t.kind or "?", t.calls, terminal.mix_text(t.outcomes)] for t in report.tools
    ]
    parts.append(_table("calls per tool", ["tool", "kind", "calls", "outcomes"], rows))
    return parts


def _reps(report: CoverageReport, charts: _Charts) -> list[str]:
    parts = ["<h2>Calls per rep</h2>"]
    if any(tool.reps for tool in report.tools):
        figure = _figure()
        for tool in report.tools:
            if tool.reps:
                emails = [rep.email or "(no rep)" for rep in tool.reps]
                rates = [rep.connect_rate for rep in tool.reps]
                figure.add_bar(x=emails, y=rates, name=tool.connection)
        figure.update_layout(title="connect rate per rep and tool", yaxis_tickformat=".0%")
        parts.append(charts.render("connect rate per rep", figure))
    rows = [
        [
            tool.connection,
            rep.email or "(no rep)",
            rep.calls,
            terminal.rate_text(rep.connect_rate),
            terminal.mix_text(rep.outcomes),
        ]
        for tool in report.tools
        for rep in tool.reps
    ]
    header = ["tool", "rep", "calls", "connect rate", "outcomes"]
    parts.append(_table("calls per rep", header, rows))
    return parts


def _lags(report: CoverageReport, charts: _Charts) -> list[str]:
    parts = ["<h2>Sync lag</h2>"]
    known = [lag for lag in report.lags if lag.pull_lag_seconds is not None]
    if known:
        figure = _figure()
        names = [lag.connection for lag in known]
        pulled = [(lag.pull_lag_seconds or 0) / 60 for lag in known]
        figure.add_bar(x=names, y=pulled, name="since the last pull that ran through")
        cursor = [
            None if lag.cursor_lag_seconds is None else lag.cursor_lag_seconds / 60 for lag in known
        ]
        if any(value is not None for value in cursor):
            figure.add_bar(x=names, y=cursor, name="since the cursor's position")
        figure.update_layout(title="sync lag per connection", yaxis_title="minutes")
        parts.append(charts.render("sync lag per connection", figure))
    rows = [
        [
            lag.connection,
            terminal.when_text(lag.last_pull_started_at, "never"),
            terminal.when_text(lag.read_up_to, "-"),
            terminal.age_text(lag.pull_lag_seconds),
            terminal.age_text(lag.cursor_lag_seconds),
        ]
        for lag in report.lags
    ]
    parts.append(_table("sync lag", terminal.LAG_COLUMNS, rows))
    return parts
