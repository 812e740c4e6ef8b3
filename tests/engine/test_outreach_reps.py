"""Calls read from Outreach carry their rep's name and email (issue 9): Outreach names the
user by integer id only, and every target finds its own user by email, so without the users
look-up no route out of Outreach could ever write a call."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import sqlalchemy as sa

from connectors.emulation.world import World
from syncer.runner import connected, sync_once
from syncer.store import repo
from tests.fleet import config_yaml, connection_yaml, fleet_store


def config(database_url: str, urls: dict[str, str]) -> str:
    connections = [connection_yaml(kind, kind, urls[kind]) for kind in ("outreach", "close")]
    return config_yaml(database_url, connections, "  - from: outreach\n    to: [close]\n")


def test_a_pull_of_outreach_then_a_push_to_close_writes_the_calls(tmp_path: Path, database_url):
    text = functools.partial(config, database_url)
    world = World(seed=7, calls=80)
    with fleet_store(["outreach", "close"], world, database_url, tmp_path / "c.yaml", text) as made:
        config_ = made.config()
        with connected(config_, made.engine) as live:
            report = sync_once(config_, made.engine, live, pull_names=["outreach"])
        with made.engine.connect() as conn:
            reasons = (
                conn.execute(sa.text("SELECT reason FROM call_links WHERE state = 'parked'"))
                .scalars()
                .all()
            )
            uids = conn.execute(sa.text("SELECT call_uid FROM calls")).scalars().all()
            calls = [repo.load_call(conn, uid) for uid in uids]
    [stats] = report.pushes.values()
    assert stats["close"].created > 0, (stats, reasons[:3])
    assert not [r for r in reasons if re.search("user e-?mail", r or "")], reasons[:3]
    assert calls and all(c is not None and c.user and c.user.email for c in calls)
