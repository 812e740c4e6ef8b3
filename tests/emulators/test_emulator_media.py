"""Issue 9.2: the emulators serve the recordings they seed, from their own base URL.

Seeded recording URLs used to name hosts that do not exist, so every demo and sync looked them
up in outside DNS. Now each seeded record points at the emulator that rendered it, and that
emulator answers the URL with a small deterministic ``audio/mpeg`` body.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

import connectors
from connectors.emulation import World
from connectors.emulation.fleet import Fleet
from connectors.emulation.media import resolve_paths
from syncer.pull import pull
from syncer.runner import connected
from syncer.store import database, repo
from tests.fleet import example_config, running

MEDIA_FIELDS = ("recording_url", "voicemail_url")


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with running(connectors.known_kinds(), World(seed=3, calls=150)) as served:
        yield served


@pytest.fixture(scope="module")
def synced(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    """A store holding one pull of every connection of the example config, over loopback."""
    url = f"sqlite:///{tmp_path_factory.mktemp('media') / 'callsync.db'}"
    config = example_config(fleet, url)
    engine = database.create_engine(url)
    database.upgrade(engine)
    with connected(config, engine) as live:
        for connector in live.values():
            assert pull(engine, connector).ok
    return engine


def _media_urls(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(repo.calls_t.c.data)).scalars().all()
    return [row[key] for row in rows for key in MEDIA_FIELDS if row.get(key)]


def test_every_synced_recording_points_at_the_emulator_that_served_it(
    fleet: Fleet, synced: sa.Engine
) -> None:
    urls = _media_urls(synced)
    assert len(urls) > 10
    ours = {urlsplit(base).netloc for base in fleet.base_urls.values()}
    assert {urlsplit(url).hostname for url in urls} == {"127.0.0.1"}  # no outside DNS look-up
    assert {urlsplit(url).netloc for url in urls} <= ours
    seeded_by = {urlsplit(url).netloc for url in urls}
    assert len(seeded_by) >= 3  # amplemarket, close and outreach seed recordings


def test_the_recording_urls_answer_with_deterministic_audio(synced: sa.Engine) -> None:
    urls = sorted(set(_media_urls(synced)))
    with httpx.Client(timeout=5) as client:
        for url in urls[:: max(1, len(urls) // 12)]:
            first, again = client.get(url), client.get(url)
            assert first.status_code == 200, url
            assert first.headers["content-type"] == "audio/mpeg"
            assert first.content.startswith(b"ID3") and 1000 < len(first.content) < 10_000
            assert first.content == again.content


def test_amplemarket_still_serves_recordings_by_call_id(fleet: Fleet, synced: sa.Engine) -> None:
    base = fleet.base_urls["amplemarket"]
    with synced.connect() as conn:
        raws = conn.execute(
            sa.select(repo.sources_t.c.raw).where(repo.sources_t.c.system == "amplemarket")
        )
        recorded = next(raw for raw in raws.scalars() if raw.get("recording_url"))
    headers = {"authorization": "Bearer amp_demo_key_callsync_0001"}
    answer = httpx.get(f"{base}/calls/{recorded['id']}/recording", headers=headers, timeout=5)
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg"


def test_only_a_json_string_that_starts_with_the_media_path_is_rewritten() -> None:
    body = b'{"a":"/recordings/x.mp3","b":"see /recordings/y.mp3","c":null}'
    assert resolve_paths(body, "http://127.0.0.1:9/") == (
        b'{"a":"http://127.0.0.1:9/recordings/x.mp3","b":"see /recordings/y.mp3","c":null}'
    )


def test_a_bad_recording_name_is_a_404(fleet: Fleet) -> None:
    answer = httpx.get(f"{fleet.base_urls['close']}/recordings/..%2Fsecret", timeout=5)
    assert answer.status_code == 404
