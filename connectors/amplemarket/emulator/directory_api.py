"""The endpoints a connector needs around calls: ``GET /account-info`` (credential probe),
``GET /users`` (who may log calls) and ``GET /tasks`` (which task a logged call belongs to)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.amplemarket.emulator import wire
from connectors.amplemarket.emulator.store import (
    AmplemarketStore,
    Listing,
    public,
    task_status_prefix,
)
from connectors.amplemarket.emulator.tunables import Tunables
from connectors.emulation import EmuRequest, EmuResponse

TASK_STATUSES = ("scheduled", "completed", "skipped")
Doc = dict[str, Any]


class DirectoryApi:
    def __init__(self, store: AmplemarketStore, tunables: Tunables) -> None:
        self.store = store
        self.tunables = tunables

    def account_info(self, _request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        # Unconfirmed shape: the docs only say it is one object, with no pagination and no
        # credits spent (§1.2); connectors should use it as a credential probe and nothing else.
        account = self.store.account() or {"id": None, "name": None, "domain": None}
        return wire.json_response(200, account)

    def list_users(self, request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        """``GET /users`` with ``status`` / ``role`` / ``email`` filters, ordered by id.

        Not in the shared vendor note, but documented (docs.amplemarket.com/api-reference/
        users/get-users) and needed: ``POST /calls`` and ``GET /tasks`` both take a user id.
        """
        filters = [
            (name, value)
            for name in ("status", "role", "email")
            if (value := request.arg(name)) is not None
        ]

        def matches(doc: Doc) -> bool:
            return all(doc.get(name) == value for name, value in filters)

        listing = Listing(self.store.users, "id", where=matches if filters else None)
        return self._page("/users", "users", request, listing, filters)

    def list_tasks(self, request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        """``GET /tasks``: ``user_id`` is required (§1.13); ordered by id (unconfirmed)."""
        if request.arg("user_id") is None:
            # Unconfirmed wording; the status and code follow the documented 400 example.
            raise wire.invalid("user_id is required")
        user_id = wire.uuid_filter(request, "user_id") or ""
        status = wire.choice_filter(request, "status", TASK_STATUSES)
        checks = self._task_checks(request)
        echoed = [
            (name, value) for name in _TASK_FILTERS if (value := request.arg(name)) is not None
        ]

        def matches(doc: Doc) -> bool:
            return all(check(doc) for check in checks)

        key, prefix = "_by_user", user_id
        if status is not None:
            key, prefix = "_by_status", task_status_prefix(user_id, status)
        listing = Listing(self.store.tasks, key, prefix, where=matches if checks else None)
        return self._page("/tasks", "tasks", request, listing, echoed)

    @staticmethod
    def _task_checks(request: EmuRequest) -> list[Callable[[Doc], bool]]:
        checks: list[Callable[[Doc], bool]] = []
        automatic = wire.boolean_filter(request, "automatic")
        if automatic is not None:
            checks.append(lambda doc: bool(doc["automatic"] is automatic))
        for name, value in (
            ("type", request.arg("type")),
            ("sequence_key", request.arg("sequence_key")),
        ):
            if value is not None:
                checks.append(_field_equals(name, value))
        keyword = request.arg("keyword")
        if keyword:
            checks.append(lambda doc: keyword.lower() in _task_text(doc))
        # Validated but not applied (the emulator has no contact time zones or email opens):
        for name in ("contact_local_time_from", "contact_local_time_to"):
            raw = request.arg(name)
            if raw is not None and not (raw.isdigit() and 0 <= int(raw) <= 23):
                raise wire.invalid(f"Invalid value for {name}")
        return checks

    def _page(
        self,
        path: str,
        data_key: str,
        request: EmuRequest,
        listing: Listing,
        filters: list[tuple[str, str]],
    ) -> EmuResponse:
        size = wire.page_size(request, self.tunables.default_page_size, self.tunables.max_page_size)
        after, before = wire.cursors(request)
        page = listing.page(size, after, before)
        params = [("page[size]", str(size)), *filters]
        links = wire.hal_links(path, params, wire.request_cursor(after, before), page)
        return wire.json_response(
            200, {data_key: [public(doc) for doc in page.docs], "_links": links}
        )


# GET /tasks filters in the order links echo them (§1.13).
_TASK_FILTERS = (
    "user_id",
    "automatic",
    "type",
    "status",
    "sequence_key",
    "keyword",
    "contact_local_time_from",
    "contact_local_time_to",
    "message_opens",
)


def _field_equals(name: str, value: str) -> Callable[[Doc], bool]:
    return lambda doc: bool(doc[name] == value)


def _task_text(doc: Doc) -> str:
    contact = doc.get("contact") or {}
    parts = (contact.get("name"), contact.get("email"), doc.get("notes"), doc.get("sequence_name"))
    return " ".join(part for part in parts if part).lower()
