"""Reading one backfill window ``[since, until)`` of Amplemarket calls by their start.

``GET /calls`` filters on the call's start with ``start_date_from`` ("calls starting after
this date") and ``start_date_to`` ("calls starting before this date") (§1.4); whether either
bound is inclusive is UNCONFIRMED (§1.6.3). Defensive choice: ask one second wider on the
lower side (``start_date`` has second precision) and trim the page to ``[since, until)`` on our
side, so a boundary call is read by exactly one window whichever way the vendor counts. The
``next`` href carries the filters forward (§1.5); the partial checkpoint is that href, and a
stored href the API refuses restarts the window (a re-read, never a gap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from connectors.amplemarket.client import VENDOR, AmplemarketClient
from connectors.amplemarket.cursor import ONE_SECOND, iso
from connectors.base import Checkpoint, JsonDict, Page, started_within
from syncer.errors import AuthError, VendorError


def start_of(record: JsonDict) -> datetime | None:
    raw = record.get("start_date")
    parsed = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    return None if parsed is None or parsed.tzinfo is None else parsed.astimezone(UTC)


def window_params(since: datetime, until: datetime, page_size: int | None) -> dict[str, str]:
    params = {"start_date_from": iso(since - ONE_SECOND), "start_date_to": iso(until)}
    if until.microsecond:  # iso() drops the fraction: round the upper bound up instead
        params["start_date_to"] = iso(until + ONE_SECOND)
    if page_size is not None:
        params["page[size]"] = str(page_size)
    return params


def read_window(
    client: AmplemarketClient,
    since: datetime,
    until: datetime,
    cursor: JsonDict | None,
    *,
    page_size: int | None,
    prepare: Callable[[Sequence[JsonDict]], None],
) -> Iterator[Page]:
    href = cursor.get("next") if cursor else None
    href = href if isinstance(href, str) else None
    params = window_params(since, until, page_size)
    while True:
        try:
            page = client.list_calls(href, params)
        except VendorError as error:
            if href is None or isinstance(error, AuthError) or not 400 <= error.status < 500:
                raise
            href = None  # the stored href is refused: walk the window again
            continue
        records = started_within(page.records, since, until, start_of)
        prepare(records)
        if page.next_href is None:
            yield Page(records, Checkpoint(partial=None))
            return
        if page.next_href == href:
            raise VendorError(VENDOR, 200, f"`next` points at the same page: {href}")
        yield Page(records, Checkpoint(partial={"next": page.next_href}))
        href = page.next_href
