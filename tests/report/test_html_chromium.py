"""The HTML report in a real browser (headless Chromium): from a store filled by a real sync
against the four emulators, every chart is drawn by plotly (an ``svg.main-svg`` with bars),
no script failed, and the page needs no network."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

import connectors
from connectors.emulation.world import World
from syncer.report import build_report, write_html
from syncer.runner import connected, sync_once
from syncer.store import database
from tests.fleet import example_config, running

CHROMIUM = shutil.which("chromium")


class _Charts(HTMLParser):
    """Per ``div.chart``: its plotly svgs and the bars drawn in them; the body's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, int]] = {}
        self.body: dict[str, str | None] = {}
        self.external: list[str] = []  # src/href of elements that would load from elsewhere
        self._open: list[str | None] = []  # per open div: the chart it starts, if any
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "body":
            self.body = found
        for key in ("src", "href"):
            if tag in ("script", "link", "img", "iframe") and found.get(key):
                self.external.append(str(found[key]))
        if tag == "div":
            starts = found.get("id") if "chart" in classes and self._chart is None else None
            self._open.append(starts)
            if starts is not None:
                self._chart = starts
                self.charts[starts] = {"svgs": 0, "bars": 0}
        if self._chart is None:
            return
        if tag == "svg" and "main-svg" in classes:
            self.charts[self._chart]["svgs"] += 1
        if tag == "path" and self._in_bar and (found.get("d") or "M0,0Z") not in ("", "M0,0Z"):
            self.charts[self._chart]["bars"] += 1
        if tag == "g" and "point" in classes:
            self._in_bar = True

    _in_bar = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "g":
            self._in_bar = False
        if tag == "div" and self._open and self._open.pop() is not None:
            self._chart = None


def _synced_report(tmp_path, database_url):
    with running(connectors.known_kinds(), World(seed=7, calls=40)) as fleet:
        config = example_config(fleet, database_url)
        engine = database.create_engine(database_url)
        database.upgrade(engine)
        with connected(config, engine) as live:
            sync = sync_once(config, engine, live)
        assert not sync.failed, (sync.failed_pulls(), sync.busy())
    try:
        return build_report(engine, config)
    finally:
        engine.dispose()


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="chromium is not installed (CI installs it, and there this test must run)",
)
def test_every_chart_is_drawn_in_a_browser_without_a_script_error(tmp_path, database_url):
    assert CHROMIUM is not None, "CI must install chromium (see .ci/run)"
    report = _synced_report(tmp_path, database_url)
    assert any(t.complete for r in report.routes for t in r.targets), report  # real data
    page = tmp_path / "report.html"
    write_html(report, page)
    written = _Charts()
    written.feed(page.read_text())
    assert written.external == [], written.external  # plotly.js is inline, not fetched
    dumped = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: a fetched script would fail
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _Charts()
    dom.feed(dumped.stdout)
    assert dom.body.get("data-script-errors") == "", dom.body
    assert len(dom.charts) == len(report.routes) + 3, dom.charts  # routes, outcomes, reps, lag
    for chart, drawn in dom.charts.items():
        assert drawn["svgs"] >= 1 and drawn["bars"] >= 1, (chart, drawn)
