"""What the connector keeps in connector state between pulls (small JSON per key).

- ``activity:<id>``: which call log wraps a call activity and the activity as last stored
  (``{"log": id, "activity": {...}}``), or that a search found no log of this user for the
  activity's version ``checked`` (``{"log": null, "checked": update_time}``), or that the
  call is stored from the activity itself (another user's call, ``others``:
  ``{"log": null, "activity": {...}, "from_activity": true}``). An activity cannot tell its
  log (vendor-apis §2.4), so this is what makes an idle poll one request.
- ``profile``: the token user (id, name, email, phone) with the token's fingerprint.
- ``budget``: the daily token budget as last seen, per UTC day (``budget``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connectors.base import ConnectorState, JsonDict

PROFILE_KEY = "profile"
BUDGET_KEY = "budget"


def activity_key(activity_id: int) -> str:
    return f"activity:{activity_id}"


@dataclass(frozen=True)
class IndexEntry:
    log_id: str | None = None
    activity: JsonDict | None = None  # the stored activity subset (records.ACTIVITY_FIELDS)
    checked: str | None = None  # update_time of the version searched in vain
    from_activity: bool = False  # stored as an activity record (``others``), not from a log

    @property
    def known(self) -> bool:
        return self.log_id is not None

    def to_json(self) -> JsonDict:
        if self.log_id is not None:
            return {"log": self.log_id, "activity": self.activity}
        if self.from_activity:
            return {"log": None, "activity": self.activity, "from_activity": True}
        return {"log": None, "checked": self.checked}

    @classmethod
    def from_json(cls, value: JsonDict) -> IndexEntry:
        log_id = value.get("log")
        activity = value.get("activity")
        checked = value.get("checked")
        return cls(
            log_id=log_id if isinstance(log_id, str) else None,
            activity=activity if isinstance(activity, dict) else None,
            checked=checked if isinstance(checked, str) else None,
            from_activity=value.get("from_activity") is True,
        )


class ActivityIndex:
    """Reads of the activity -> call log map (writes travel with pages, as ``Page.state``)."""

    def __init__(self, state: ConnectorState) -> None:
        self._state = state

    def get(self, activity_ids: Iterable[int]) -> dict[int, IndexEntry]:
        ids = sorted(set(activity_ids))
        if not ids:
            return {}
        stored = self._state.get([activity_key(i) for i in ids])
        found: dict[int, IndexEntry] = {}
        for activity_id in ids:
            value = stored.get(activity_key(activity_id))
            if value is not None:
                found[activity_id] = IndexEntry.from_json(value)
        return found


@dataclass
class Batch:
    """What one page carries: records, deleted call-log ids, and state to store with them."""

    records: list[JsonDict]
    deleted: list[str]
    state: dict[str, JsonDict]

    @classmethod
    def empty(cls) -> Batch:
        return cls([], [], {})

    def remember(self, activity_id: int, entry: IndexEntry) -> None:
        self.state[activity_key(activity_id)] = entry.to_json()
