"""Calls read from Outreach carry their rep's name and email (issue 9): Outreach names the
user by integer id only, and every target finds its own user by email, so without the users
look-up no route out of Outreach could ever write a call."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from connectors.emulation.fleet import start_fleet
from connectors.emulation.world import World
from syncer.config import load_config
from syncer.runner import connected, sync_once
from syncer.store import database, repo

CONFIG = """
database:
  url: {database}
connections:
  outreach:
    kind: outreach
    client_id: callsync-demo-outreach-client
    client_secret: callsync-demo-outreach-secret
    refresh_token: callsync-demo-outreach-refresh
    base_url: {outreach}
  close:
    kind: close
    api_key: api_3hQxDemoCloseKey0ForCallsyncEmulator2026
    base_url: {close}
routes:
  - from: outreach
    to: [close]
"""


def test_a_pull_of_outreach_then_a_push_to_close_writes_the_calls(tmp_path: Path, database_url):
    fleet = start_fleet(["outreach", "close"], World(seed=7, calls=80))
    try:
        urls = fleet.base_urls
        path = tmp_path / "callsync.yaml"
        path.write_text(CONFIG.format(database=database_url, **urls))
        config = load_config(path)
        engine = database.create_engine(database_url)
        database.upgrade(engine)
        with connected(config, engine) as live:
            report = sync_once(config, engine, live, pull_names=["outreach"])
        with engine.connect() as conn:
            reasons = (
                conn.execute(sa.text("SELECT reason FROM call_links WHERE state = 'parked'"))
                .scalars()
                .all()
            )
            uids = conn.execute(sa.text("SELECT call_uid FROM calls")).scalars().all()
            calls = [repo.load_call(conn, uid) for uid in uids]
        engine.dispose()
    finally:
        fleet.stop()
    [stats] = report.pushes.values()
    assert stats["close"].created > 0, (stats, reasons[:3])
    assert not [r for r in reasons if re.search("user e-?mail", r or "")], reasons[:3]
    assert calls and all(c is not None and c.user and c.user.email for c in calls)
