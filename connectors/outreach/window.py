"""Reading one backfill window ``[since, until)`` of Outreach calls.

Outreach filters calls only on ``createdAt`` and ``updatedAt`` (doc §2.3: range syntax, with
``newFilterSyntax=true`` the inclusive bracket operators ``[gte]``/``[lte]``), not on the call
time. A backfill window asks ``filter[createdAt][gte]=since`` and ``[lte]=until - 1 ms`` sorted
by ``createdAt``: the record is created when the call is logged, at or after the call itself
(``createdAt`` is not the call time, §2.4), so a dialer call sits in the window it happened in,
and a call logged later sits in the window that holds its logging time, which is also the
canonical start of a hand-logged call without ``dialedAt``. A call started just before
``until`` and logged after it is read by the next window (or by the live pull after the last
one); nothing is dropped on our side, so no call is lost between two windows.

The partial checkpoint is ``links.next``; a refused page cursor (how long one lives is
UNCONFIRMED) restarts the window from its first page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from connectors.base import Checkpoint, JsonDict, Page
from connectors.outreach.client import ListPage, OutreachClient, format_time
from syncer.errors import VendorError

CALLS = "calls"
ONE_MS = timedelta(milliseconds=1)


def window_query(since: datetime, until: datetime, page_size: int) -> list[tuple[str, str]]:
    return [
        ("count", "false"),
        ("filter[createdAt][gte]", format_time(since)),
        ("filter[createdAt][lte]", format_time(until - ONE_MS)),
        ("newFilterSyntax", "true"),
        ("page[size]", str(page_size)),
        ("sort", "createdAt"),
    ]


def read_window(
    client: OutreachClient,
    since: datetime,
    until: datetime,
    cursor: JsonDict | None,
    *,
    page_size: int,
    prepare: Callable[[Sequence[JsonDict]], None],
) -> Iterator[Page]:
    query = window_query(since, until, page_size)
    link = cursor.get("next") if cursor else None
    page = _resume(client, query, link) if isinstance(link, str) else _first(client, query)
    while page.next_link is not None:
        prepare(page.records)
        yield Page(page.records, Checkpoint(partial={"next": page.next_link}))
        previous, page = page.next_link, client.next_page(CALLS, page.next_link)
        if page.next_link == previous:
            raise VendorError("outreach", 200, "links.next repeats itself")
    prepare(page.records)
    yield Page(page.records, Checkpoint(partial=None))


def _first(client: OutreachClient, query: list[tuple[str, str]]) -> ListPage:
    return client.first_page(CALLS, query)


def _resume(client: OutreachClient, query: list[tuple[str, str]], link: str) -> ListPage:
    try:
        return client.next_page(CALLS, link)
    except VendorError as error:
        if error.status not in (400, 404, 422):
            raise
        return _first(client, query)
