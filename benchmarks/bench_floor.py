"""The floor: a hand-written loop any engineer would write in an afternoon, no mapping.

``python benchmarks/bench_floor.py KIND BASE_URL DATABASE_URL`` reads every call of the KIND
emulator's account page by page with httpx, parses each page with ``json`` and upserts the raw
JSON of its records (``executemany``, one transaction per page) into one table of a fresh
SQLite file or PostgreSQL database; prints one JSON line like ``bench_callsync.py``. Pages are
the vendor's largest; nothing is mapped, paced, retried or checkpointed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

Pages = Iterator[list[dict[str, Any]]]
CLOSE_KEY = "api_3hQxDemoCloseKey0ForCallsyncEmulator2026"  # the emulators' demo credentials
AMPLEMARKET_KEY = "amp_demo_key_callsync_0001"
PIPEDRIVE_TOKEN = "e012f234130428bc4e5dc2786d99c7f58bc1537e"  # noqa: S105
OUTREACH = {
    "client_id": "callsync-demo-outreach-client",
    "client_secret": "callsync-demo-outreach-secret",
}


def close_pages(http: httpx.Client) -> Pages:
    http.auth = httpx.BasicAuth(CLOSE_KEY, "")
    skip = 0
    while True:
        body = json.loads(
            http.get("/api/v1/activity/call/", params={"_limit": 100, "_skip": skip}).content
        )
        yield body["data"]
        skip += len(body["data"])
        if not body["has_more"]:
            return


def amplemarket_pages(http: httpx.Client) -> Pages:
    http.headers["authorization"] = f"Bearer {AMPLEMARKET_KEY}"
    url: str | None = "/calls?page[size]=20"  # the documented default callsync keeps
    while url is not None:
        body = json.loads(http.get(url).content)
        yield body["calls"]
        url = ((body.get("_links") or {}).get("next") or {}).get("href")


def outreach_pages(http: httpx.Client) -> Pages:
    refresh = os.environ["BENCH_OUTREACH_REFRESH_TOKEN"]  # the run's own (they rotate)
    form = {"grant_type": "refresh_token", "refresh_token": refresh, **OUTREACH}
    token = json.loads(http.post("/oauth/token", data=form).content)["access_token"]
    http.headers["authorization"] = f"Bearer {token}"
    http.headers["content-type"] = http.headers["accept"] = "application/vnd.api+json"
    url: str | None = "/api/v2/calls?page[size]=1000"
    while url is not None:
        body = json.loads(http.get(url).content)
        yield body["data"]
        url = (body.get("links") or {}).get("next")


def pipedrive_pages(http: httpx.Client) -> Pages:
    """The token user's call logs, then every user's call activities (Pipedrive shows a user
    only their own call logs)."""
    http.headers["x-api-token"] = PIPEDRIVE_TOKEN
    start = 0
    while True:
        body = json.loads(
            http.get("/api/v1/callLogs", params={"start": start, "limit": 50}).content
        )
        yield [{"id": f"log:{item['id']}", **item} for item in body.get("data") or []]
        pagination = (body.get("additional_data") or {}).get("pagination") or {}
        if not pagination.get("more_items_in_collection"):
            break
        start = pagination["next_start"]
    params: dict[str, Any] = {"type": "call", "limit": 500}
    while True:
        body = json.loads(http.get("/api/v2/activities", params=params).content)
        yield [{**item, "id": f"activity:{item['id']}"} for item in body.get("data") or []]
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return
        params["cursor"] = cursor


PAGES: dict[str, Callable[[httpx.Client], Pages]] = {
    "close": close_pages,
    "amplemarket": amplemarket_pages,
    "outreach": outreach_pages,
    "pipedrive": pipedrive_pages,
}


class Counting(httpx.Client):
    sent = 0

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        self.sent += 1
        return super().send(request, **kwargs)


def _sqlite(url: str) -> tuple[Any, str]:
    import sqlite3

    db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # callsync's setting for pull pages
    db.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, raw TEXT NOT NULL)")
    return db, "INSERT INTO calls VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET raw = excluded.raw"


def _postgresql(url: str) -> tuple[Any, str]:
    import psycopg

    db = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    db.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, raw JSON NOT NULL)")
    return db, "INSERT INTO calls VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET raw = excluded.raw"


def main(kind: str, base_url: str, database_url: str) -> None:
    db, upsert = (_sqlite if database_url.startswith("sqlite") else _postgresql)(database_url)
    records = 0
    started, cpu = time.perf_counter(), time.process_time()
    with Counting(base_url=base_url, timeout=60) as http:
        for page in PAGES[kind](http):
            rows = [(str(record["id"]), json.dumps(record)) for record in page]
            db.execute("BEGIN")
            db.cursor().executemany(upsert, rows)
            db.execute("COMMIT")
            records += len(rows)
    report = {
        "records": records,
        "requests": http.sent,
        "wall": time.perf_counter() - started,
        "pull_cpu": time.process_time() - cpu,
    }
    db.close()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
