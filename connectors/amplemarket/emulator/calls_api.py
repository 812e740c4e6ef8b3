"""The call endpoints: ``GET /calls``, ``POST /calls``, ``GET /calls/dispositions`` and
``GET /calls/{id}/recording`` (vendor doc §1.4-§1.10)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.amplemarket.emulator import wire
from connectors.amplemarket.emulator.ids import epoch_ms, id_floor, iso_second, normalise_uuid
from connectors.amplemarket.emulator.recording import fake_mp3
from connectors.amplemarket.emulator.records import CREATED_CALL_KEYS, call_document
from connectors.amplemarket.emulator.store import TOP, AmplemarketStore, Listing, Page, public
from connectors.amplemarket.emulator.tunables import Tunables
from connectors.emulation import ApiError, Clock, EmuRequest, EmuResponse

# The filters GET /calls accepts, in the order links echo them (§1.4 OpenAPI block).
CALL_FILTERS = ("user_id", "from", "to", "start_date_from", "start_date_to")

# POST /calls body (§1.7): required fields, then optional ones, each with its JSON type.
_REQUIRED_FIELDS = (
    ("from", "string"),
    ("to", "string"),
    ("duration", "integer"),
    ("answered", "boolean"),
    ("human", "boolean"),
    ("task_id", "uuid"),
    ("user_id", "uuid"),
)
_OPTIONAL_FIELDS = (
    ("transcription", "string"),
    ("recording_url", "string"),
    ("disposition_id", "uuid"),
)

Doc = dict[str, Any]


class CallsApi:
    def __init__(self, store: AmplemarketStore, clock: Clock, tunables: Tunables) -> None:
        self.store = store
        self.clock = clock
        self.tunables = tunables

    # --- GET /calls ----------------------------------------------------------------------

    def list_calls(self, request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        size = wire.page_size(request, self.tunables.default_page_size, self.tunables.max_page_size)
        after, before = wire.cursors(request)
        listing = self._listing(request)
        empty = listing.low >= listing.high
        page = Page([], False, False) if empty else listing.page(size, after, before)
        echoed = [
            (name, value) for name in CALL_FILTERS if (value := request.arg(name)) is not None
        ]
        params = [("page[size]", str(size)), *echoed]
        links = wire.hal_links("/calls", params, wire.request_cursor(after, before), page)
        return wire.json_response(
            200, {"calls": [public(doc) for doc in page.docs], "_links": links}
        )

    def _listing(self, request: EmuRequest) -> Listing:
        """Newest first (§1.4), over the index of one filter; the others are checked per row.

        Numbers match as stored, character for character: the vendor does not normalise.
        """
        low, high = self._id_bounds(request)
        filters = {
            "to": request.arg("to"),
            "from": request.arg("from"),
            "user_id": wire.uuid_filter(request, "user_id"),
        }
        # The index goes to the first filter given: ``to`` is usually the contact's number,
        # ``from`` usually the rep's own, ``user_id`` the least selective.
        indexed = next((name for name, value in filters.items() if value is not None), None)
        checks = [
            _field_equals(name, value)
            for name, value in filters.items()
            if value is not None and name != indexed
        ]
        where = _all_of(checks)
        if indexed == "to":
            return Listing(self.store.calls, "_by_to", filters["to"], low, high, True, where)
        if indexed == "from":
            return Listing(
                self.store.calls_by_from,
                "key",
                filters["from"],
                low,
                high,
                True,
                where,
                resolve=self.store.calls.get,
            )
        if indexed == "user_id":
            return Listing(self.store.calls, "_by_user", filters["user_id"], low, high, True, where)
        return Listing(self.store.calls, "id", None, low, high, True, where)

    @staticmethod
    def _id_bounds(request: EmuRequest) -> tuple[str, str]:
        """``start_date_from`` / ``start_date_to`` as an id range (ids embed the start).

        Both bounds are exclusive ("calls starting after / before this date", §1.4): whether
        the vendor includes the boundary is unconfirmed (§1.6.3), and the strict reading makes a
        connector that forgets to subtract a second miss calls here rather than in production.
        """
        start_from, start_to = (
            wire.instant(request, "start_date_from"),
            wire.instant(request, "start_date_to"),
        )
        low = "" if start_from is None else id_floor((epoch_ms(start_from) // 1000 + 1) * 1000)
        high = TOP if start_to is None else id_floor(-(-epoch_ms(start_to) // 1000) * 1000)
        return low, high

    # --- POST /calls ---------------------------------------------------------------------

    def create_call(self, request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        body = _json_body(request)
        errors = _field_errors(body)
        if errors:
            raise ApiError(400, "unsupported_value", errors[0]["detail"], extra={"errors": errors})
        now = self.clock.now()
        with self.store.state.transaction():
            user, task, disposition = self._references(body)
            doc = call_document(
                call_id=self.store.new_id(epoch_ms(now)),
                # The server sets start_date to the time of logging (§1.7); the request has
                # no start_date field, and extra fields (start_date, notes, direction,
                # contact) are dropped silently, as strong parameters do.
                start_date=iso_second(now),
                from_number=body["from"],
                to_number=body["to"],
                duration=body["duration"],
                answered=body["answered"],
                human=body["human"],
                external=True,
                user=user,
                contact=task["contact"],
                task_id=task["id"],
                disposition=disposition,
                direction=None,  # unconfirmed: POST /calls takes no direction
                transcription=body.get("transcription"),
                recording_url=body.get("recording_url"),
            )
            self.store.put_call(doc)
            if disposition is not None and disposition["action"] == "complete":
                self._complete_task(task, iso_second(now))
        return wire.json_response(201, {key: doc[key] for key in CREATED_CALL_KEYS})

    def _references(self, body: Doc) -> tuple[Doc, Doc, Doc | None]:
        user_id, task_id = normalise_uuid(body["user_id"]), normalise_uuid(body["task_id"])
        user = self.store.users.get(user_id or "")
        if user is None:
            raise wire.not_found("User not found", "/user_id")
        task = self.store.tasks.get(task_id or "")
        # Unconfirmed: a task of another user is treated as not found (tasks are per user).
        if task is None or task["user_id"] != user["id"]:
            raise wire.not_found("Task not found", "/task_id")
        if task["status"] != "scheduled" and not self.tunables.accept_calls_on_closed_tasks:
            raise wire.invalid(f"Task is {task['status']}", "/task_id")
        disposition = None
        if body.get("disposition_id") is not None:
            disposition = self.store.dispositions.get(normalise_uuid(body["disposition_id"]) or "")
            if disposition is None:
                raise wire.not_found("Disposition not found", "/disposition_id")
        return user, task, disposition

    def _complete_task(self, task: Doc, when: str) -> None:
        """A ``complete`` disposition completes the task and its sequence lead (§1.9)."""
        if task["status"] != "scheduled":
            return
        self.store.put_task({**task, "status": "completed", "finished_on": when})
        if task["sequence_key"] is not None and task["contact"] is not None:
            self.store.complete_lead(task["sequence_key"], task["contact"]["id"], when)

    # --- GET /calls/dispositions ---------------------------------------------------------

    def list_dispositions(self, _request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        found = [public(item.doc) for item in self.store.dispositions.scan()]
        return wire.json_response(200, {"dispositions": found})

    # --- GET /calls/{id}/recording -------------------------------------------------------

    def get_recording(self, _request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        call_id = normalise_uuid(params["id"])
        doc = None if call_id is None else self.store.calls.get(call_id)
        if doc is None:
            raise wire.not_found("Call not found", "/id")  # §1.10, verbatim
        # Only in-app calls (external: false) have a downloadable recording (§1.10). The
        # status for an external call is unconfirmed; 404 is the reading a connector must
        # survive anyway.
        size = doc.get("_recording_bytes")
        if doc["external"] or not size:
            raise wire.not_found("Recording not found", "/id")
        if size > self.tunables.recording_max_bytes:
            raise ApiError(413, "content_too_large", "Recording is too big")  # §1.10
        return EmuResponse(200, fake_mp3(doc["id"], size), {"content-type": "audio/mpeg"})


def _field_equals(name: str, value: str | None) -> Callable[[Doc], bool]:
    return lambda doc: bool(doc[name] == value)


def _all_of(checks: list[Callable[[Doc], bool]]) -> Callable[[Doc], bool] | None:
    if not checks:
        return None
    return lambda doc: all(check(doc) for check in checks)


def _json_body(request: EmuRequest) -> Doc:
    """The JSON object a POST carries; without a JSON content type the body is not read."""
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type not in wire.ACCEPTED_BODY_TYPES:
        return {}
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise wire.invalid("Invalid JSON body") from None
    if not isinstance(body, dict):
        raise wire.invalid("Invalid JSON body")
    return body


def _field_errors(body: Doc) -> list[Doc]:
    """Every invalid field at once (``_errors`` is a list), each pointing at its field.

    Unconfirmed: the status and code of POST /calls validation errors are undocumented
    (§1.7); the emulator uses the documented validation code, ``400 unsupported_value``.
    """
    errors = []
    for name, kind in _REQUIRED_FIELDS:
        if body.get(name) is None:
            errors.append(wire.error_entry("unsupported_value", f"{name} is required", f"/{name}"))
        elif not _is_kind(body[name], kind):
            errors.append(
                wire.error_entry("unsupported_value", f"{name} must be a {kind}", f"/{name}")
            )
    for name, kind in _OPTIONAL_FIELDS:
        if body.get(name) is not None and not _is_kind(body[name], kind):
            errors.append(
                wire.error_entry("unsupported_value", f"{name} must be a {kind}", f"/{name}")
            )
    return errors


def _is_kind(value: object, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "uuid":
        return isinstance(value, str) and normalise_uuid(value) is not None
    return isinstance(value, str) and bool(value.strip())
