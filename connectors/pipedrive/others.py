"""The calls of the company's other users, read from their ``call`` activities.

``GET /v1/callLogs`` lists only the token user's logs, and a log of another user answers 404
(vendor-apis §2.3, §2.8; whether an admin sees them is UNCONFIRMED, so callsync never counts
on it). ``GET /api/v2/activities`` lists every user's activities the token may see (an admin:
all of them; UNCONFIRMED how far a non-admin's visibility settings reach, and whether the
list without ``owner_id`` includes other users at all: the emulator's reading is yes, for
everything the caller may see). So another user's done ``call`` activity is stored as a call
of its own (``activity_calls``), keyed ``activity:<id>``:

- the changes pass hands every call activity of another owner here (the same request that
  finds the token user's changes: no extra cost on an idle poll);
- the sweep walks every activity once (``walk``: 10 tokens per 500 activities), so a first
  pull reads the whole history and stored activity calls count as seen (a sweep tombstones
  what it did not see);
- no call is read twice: the token user's call activities come from their logs, and an
  activity is one or the other in the index (an activity cannot name its log, §2.4; a log
  names its ``activity_id``). When an activity moves to the token user and its log is found,
  the activity record is tombstoned; when a known log's activity moves to another user, the
  log answers 404 (tombstoned) and the activity record takes over.

The owner is named from ``GET /v1/users`` (20 tokens), read at most once per pull and only
when another user's call is stored.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import JsonDict
from connectors.pipedrive import activity_calls
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.index import ActivityIndex, Batch, IndexEntry
from connectors.pipedrive.records import CALL_TYPE, activity_snapshot
from syncer.errors import VendorError


class OtherUsers:
    """One per pull: the user directory is read once and kept for the pull."""

    def __init__(
        self, client: PipedriveClient, index: ActivityIndex, profile: JsonDict, page_size: int
    ) -> None:
        self.client = client
        self.index = index
        self.me = profile.get("id")
        self.page_size = page_size
        self._users: dict[object, JsonDict] | None = None

    def owns(self, activity: JsonDict) -> bool:
        """Whether the activity belongs to another user than the token's."""
        owner = activity.get("owner_id")
        return isinstance(owner, int) and not isinstance(owner, bool) and owner != self.me

    def collect(
        self, activity: JsonDict, entry: IndexEntry | None, batch: Batch, *, touch: bool = False
    ) -> None:
        """Store, refresh or tombstone another user's call activity. ``touch``: hand over an
        unchanged call too (a sweep must see every live record)."""
        snapshot = activity_snapshot(activity)
        stored = entry is not None and entry.from_activity
        unchanged = stored and entry is not None and entry.activity == snapshot
        if unchanged and not touch:
            return
        remembered = IndexEntry(activity=snapshot, from_activity=True)
        live = activity.get("is_deleted") is not True and activity.get("done") is True
        if live:
            batch.records.append(activity_calls.build(activity, self._owner(activity)))
        elif stored:
            # Deleted, or marked not done again (a planned call is no call yet).
            batch.deleted.append(activity_calls.record_key_of(activity["id"]))
        else:
            return  # never stored: nothing to tombstone, nothing to remember
        if not unchanged:
            batch.remember(activity["id"], remembered)

    def walk(self, cursor: str | None) -> Iterator[tuple[Batch, str | None]]:
        """(batch, the cursor to resume from; None once complete) per page of every activity,
        in id order, from ``cursor`` (None: the first page)."""
        while True:
            try:
                page = self.client.activities(
                    since=None, cursor=cursor, limit=self.page_size, by_id=True
                )
            except VendorError as error:
                if error.status != 400 or cursor is None:
                    raise
                # A cursor the vendor no longer accepts: walk again (stored calls are only
                # touched twice; UNCONFIRMED how long cursors live).
                cursor = None
                continue
            yield self._batch(page.records), page.next_cursor
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _batch(self, activities: list[JsonDict]) -> Batch:
        calls = [
            a
            for a in activities
            if a.get("type") == CALL_TYPE and isinstance(a.get("id"), int) and self.owns(a)
        ]
        entries = self.index.get(a["id"] for a in calls)
        batch = Batch.empty()
        for activity in calls:
            entry = entries.get(activity["id"])
            if entry is not None and entry.known:
                continue  # read from the token user's log; the changes pass follows it
            self.collect(activity, entry, batch, touch=True)
        return batch

    def _owner(self, activity: JsonDict) -> JsonDict | None:
        if self._users is None:
            self._users = {user.get("id"): user for user in self.client.users()}
        return self._users.get(activity.get("owner_id"))


def is_admin(user: JsonDict) -> bool | None:
    """Whether ``/v1/users/me`` describes an admin: ``is_admin``, or an ``admin`` grant on
    the ``global`` or ``sales`` app in ``access`` (the v1 BaseUser shape); None if neither
    is there to read."""
    flag = user.get("is_admin")
    if isinstance(flag, bool):
        return flag
    access = user.get("access")
    if not isinstance(access, list):
        return None
    return any(
        isinstance(grant, dict) and grant.get("app") in ("global", "sales") and grant.get("admin")
        for grant in access
    )


ACTIVITY_ONLY = (
    "other users' calls: read from their call activities (no phone numbers, outcome or "
    "recording; direction only where the subject says it; start from the due time)"
)
NOT_ADMIN = (
    "other users' calls: the token's user is not an admin, so only the activities Pipedrive's "
    "visibility settings show that user are read; calls of users hidden from it are missed"
)
OFF = "other users' calls: not read (other_users: false); only the token user's call logs"
OWN_WITHOUT_LOG = "the token user's call activities without a call log (logged by hand): not read"


def coverage(other_users: bool, admin: bool | None) -> JsonDict:
    """What this connection does not read, for ``callsync status`` (``COVERAGE_STATE_KEY``)."""
    if not other_users:
        gaps = [OFF]
    elif admin is False:
        gaps = [ACTIVITY_ONLY, NOT_ADMIN]
    else:
        gaps = [ACTIVITY_ONLY]
    return {"not_covered": [*gaps, OWN_WITHOUT_LOG]}
