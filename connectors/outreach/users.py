"""The org's users (the reps), so a call read from Outreach names its rep's name and email.

A call names its user by integer id only (``relationships.user``, doc §2.5), while every
target finds its own user by email: without this look-up no call read from Outreach could be
written anywhere. Users are ``GET /api/v2/users`` (scope ``users.read``, doc §2.2); the user
resource carries ``email``, ``firstName``, ``lastName`` and ``name`` (not in the shared notes:
[practitioner] the outreach-ruby gem's ``Outreach::User``; the emulator serves the same).

Cost: the ids a page names that are not known yet are asked for together, ``filter[id]=1,2,3``
(comma lists are documented for filters in general, doc §2.3; that ``/users`` accepts
``filter[id]`` is unconfirmed). If Outreach refuses that filter (400/422), the whole directory
is paged once instead. Answers live in memory for the connector's lifetime (one run); an id
asked for and not answered (a deleted user) is not asked for again in that run.

A failed look-up never stops reading calls: those calls are stored without the rep's email
(targets park them, saying so), no further look-up is tried in the run, and the next run's
look-ups fill in what they read. Calls stored meanwhile get the email when they are read
again (at the latest by the next full sweep): their stored payload then differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import structlog

from connectors.base import JsonDict
from connectors.outreach.labels import related_id
from connectors.outreach.settings import MAX_PAGE_SIZE
from syncer.errors import AuthError, TransientError, VendorError

log = structlog.get_logger("callsync.outreach")

Fetch = Callable[[Sequence[tuple[str, str]]], Iterator[JsonDict]]  # /users query -> records
BATCH = 100  # ids per request: keeps the URL around a kilobyte
LIST = (("count", "false"), ("page[size]", str(MAX_PAGE_SIZE)))
FILTER_REFUSED = frozenset({400, 422})


def user_id(record: Any) -> str | None:
    """The id of the user a call resource names, if any."""
    return related_id(record.get("relationships"), "user") if isinstance(record, dict) else None


class UserDirectory:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._users: dict[str, JsonDict | None] = {}  # None: asked for, Outreach has none
        self._complete = False  # the whole directory was read
        self._failed = False  # a look-up failed: no more this run

    def prepare(self, records: Iterable[Any]) -> None:
        """Look up every user ``records`` name that is not known yet, in batches."""
        if self._complete or self._failed:
            return
        unknown = sorted(
            {i for r in records if (i := user_id(r)) is not None and i not in self._users},
            key=lambda ident: (len(ident), ident),
        )
        try:
            for start in range(0, len(unknown), BATCH):
                if self._look_up(unknown[start : start + BATCH]):
                    return  # the whole directory is known now
        except (VendorError, TransientError) as error:
            # Degrade: the calls go on without their rep's email; a later run asks again.
            self._failed = True
            log.warning("outreach.users_unavailable", error=str(error))

    @property
    def failed(self) -> bool:
        """A look-up failed this run: reps not known by now stay without their email."""
        return self._failed

    def user(self, ident: str | None) -> JsonDict | None:
        """The user resource of ``ident`` as Outreach sent it, if looked up and found."""
        return None if ident is None else self._users.get(ident)

    def _look_up(self, ids: list[str]) -> bool:
        """Ask for ``ids``; True when the whole directory had to be read instead."""
        try:
            self._keep(self._fetch([("filter[id]", ",".join(ids)), *LIST]))
        except VendorError as error:
            if isinstance(error, AuthError) or error.status not in FILTER_REFUSED:
                raise
            self._keep(self._fetch(LIST))  # the filter is refused: read the directory once
            self._complete = True
        for ident in ids:
            self._users.setdefault(ident, None)
        return self._complete

    def _keep(self, records: Iterator[JsonDict]) -> None:
        for record in records:
            if record.get("id") is not None:
                self._users[str(record["id"])] = record


def rep_name(user: JsonDict) -> str | None:
    attributes = _attributes(user)
    if isinstance(name := attributes.get("name"), str) and name.strip():
        return name.strip()
    parts = [attributes.get(key) for key in ("firstName", "lastName")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def rep_email(user: JsonDict) -> str | None:
    email = _attributes(user).get("email")
    # A user without a usable email is a rep targets cannot find, not a broken call.
    return email.strip() if isinstance(email, str) and "@" in email else None


def _attributes(user: JsonDict) -> JsonDict:
    attributes = user.get("attributes")
    return attributes if isinstance(attributes, dict) else {}
