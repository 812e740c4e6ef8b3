"""``CloseEmulator``: routes, authentication, rate limits, error shapes and the admin helpers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from connectors.emulation import (
    ApiError,
    Clock,
    Emulator,
    EmuRequest,
    EmuResponse,
    FaultPlan,
    Router,
    StateDB,
    SystemClock,
)
from connectors.emulation.http import Route

from ._call_list import CallQuery, ListSettings
from ._call_rules import LAZY_FIELDS, public
from ._calls import CallBook
from ._events import EventLog, EventSettings, Origin
from ._people import People, PeopleSettings
from ._ratelimit import DEFAULT_LIMITS, RateLimiter, RateSettings
from ._seed import SeedSummary
from ._state import Caller, CloseState, integration_user_id
from ._support import (
    API,
    ORG_ID,
    json_body,
    make_id,
    not_found,
    project,
    requested_fields,
)
from ._world_calls import CloseWorldCalls

Handler = Callable[[EmuRequest, dict[str, str]], EmuResponse]


class CloseEmulator(CloseWorldCalls, Emulator):
    """A local, strict Close API (see the package docstring for what is and is not emulated)."""

    name = "close"
    DEMO_API_KEY: ClassVar[str] = "api_3hQxDemoCloseKey0ForCallsyncEmulator2026"
    ORGANIZATION_ID: ClassVar[str] = ORG_ID
    INTEGRATION_USER_ID: ClassVar[str] = integration_user_id()
    # Requests per ``rate_window_seconds`` per API key, by endpoint group (org limit: 3x).
    DEFAULT_RATE_LIMITS: ClassVar[Mapping[str, int]] = DEFAULT_LIMITS

    def __init__(
        self,
        *,
        state: StateDB | None = None,
        clock: Clock | None = None,
        faults: FaultPlan | None = None,
        max_limit: int = 100,
        max_skip: int = 250_000,
        event_delay_seconds: float = 2.0,
        event_jitter_seconds: float = 3.0,
        merge_window_seconds: float = 10.0,
        event_retention_days: int = 30,
        rate_limits: Mapping[str, int] | None = None,
        rate_window_seconds: float = 1.0,
        org_limit_multiplier: int = 3,
        demo_key_is_admin: bool = False,
        seed_events: bool = True,
    ) -> None:
        state = state or StateDB()
        clock = clock or SystemClock()
        self.seed_events = seed_events
        self.store = CloseState(state, clock)
        self.store.bootstrap(self.DEMO_API_KEY, demo_key_is_admin)
        self.events = EventLog(
            self.store,
            EventSettings(
                delay_seconds=event_delay_seconds,
                jitter_seconds=event_jitter_seconds,
                merge_window_seconds=merge_window_seconds,
                retention_days=event_retention_days,
            ),
        )
        self.calls = CallBook(self.store, self.events)
        self.call_query = CallQuery(self.store.calls, ListSettings(max_limit, max_skip))
        self.people = People(self.store, self.events, PeopleSettings(max_limit, max_skip))
        self.limiter = RateLimiter(
            RateSettings(dict(rate_limits or {}), rate_window_seconds, org_limit_multiplier), clock
        )
        self._groups: dict[tuple[str, str], str] = {}
        self.last_seed: SeedSummary | None = None
        super().__init__(state=state, clock=clock, faults=faults)

    # --- routes -------------------------------------------------------------------------------

    def register_routes(self, router: Router) -> None:
        people, calls = self.people, self.call_query
        routes: list[tuple[str, str, str, Handler]] = [
            ("GET", "/me/", "config", self._me),
            ("GET", "/user/", "config", people.list_users),
            ("GET", "/user/{user_id}/", "config", people.get_user),
            ("GET", "/outcome/", "config", people.list_outcomes),
            ("GET", "/outcome/{outcome_id}/", "config", people.get_outcome),
            ("GET", "/activity/call/", "calls_read", calls.run),
            ("POST", "/activity/call/", "calls_write", self._post_call),
            ("GET", "/activity/call/{call_id}/", "calls_read", self._get_call),
            ("PUT", "/activity/call/{call_id}/", "calls_write", self._put_call),
            ("DELETE", "/activity/call/{call_id}/", "calls_write", self._delete_call),
            ("GET", "/event/", "events", self._events),
            ("GET", "/lead/", "search", people.list_leads),
            ("POST", "/lead/", "leads_write", self._post_lead),
            ("GET", "/lead/{lead_id}/", "search", people.get_lead),
            ("GET", "/contact/", "search", people.list_contacts),
            ("POST", "/contact/", "leads_write", self._post_contact),
            ("GET", "/contact/{contact_id}/", "search", people.get_contact),
            ("POST", "/data/search/", "search", people.data_search),
        ]
        for method, path, group, handler in routes:
            router.add(method, API + path, handler)
            self._groups[(method, API + path)] = group

    # --- the vendor's rules in the shared pipeline --------------------------------------------

    def handle(self, request: EmuRequest) -> EmuResponse:
        # Long filter lists may be POSTed with x-http-method-override: GET and {"_params": {...}}.
        override = (request.header("x-http-method-override") or "").upper()
        if request.method == "POST" and override == "GET":
            request = _as_get(request)
        return super().handle(request)

    def authenticate(self, request: EmuRequest, route: Route) -> str:
        self._caller(request)
        return _api_key(request) or ""

    def admit(self, request: EmuRequest, route: Route, caller: str) -> dict[str, str]:
        return self.limiter.admit(self._groups[(route.method, route.name)], caller)

    def rate_limited(self, request: EmuRequest) -> ApiError:
        route, _, _ = self.router.match(request.method, request.path)
        group = self._groups.get((route.method, route.name), "config") if route else "config"
        return self.limiter.exceeded(group, "key", _api_key(request) or "")

    def render_error(self, error: ApiError) -> EmuResponse:
        if error.code == "validation":
            payload: Any = {
                "errors": list(error.extra.get("errors", [])),
                "field-errors": dict(error.extra.get("field-errors", {})),
            }
        elif error.code == "rate_limited":
            payload = {"error": dict(error.extra) or {"message": error.message}}
        else:
            payload = {"error": error.message}
        return EmuResponse.json(error.status, payload, error.headers)

    def _caller(self, request: EmuRequest) -> Caller:
        """HTTP Basic with the API key as username and an empty password (§1.1).

        Bearer tokens (OAuth) are deliberately not emulated: they answer 401 like a bad key.
        UNCONFIRMED: the exact 401 body; we send ``{"error": "..."}`` like every other error.
        """
        api_key = _api_key(request)
        caller = self.store.caller_for_key(api_key) if api_key else None
        if caller is None:
            raise ApiError(
                401,
                "unauthorized",
                "The API key is missing or invalid.",
                {"www-authenticate": 'Basic realm="api"'},
            )
        return caller

    def _origin(self, request: EmuRequest) -> Origin:
        request_id = make_id("req", self.store.next_token("req"), 22)
        return Origin(self._caller(request), request.method, request.path, request_id)

    # --- handlers -----------------------------------------------------------------------------

    def _me(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        return self.people.me(self._caller(request).user_id)

    def _get_call(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        rec = self.calls.get(params["call_id"])
        if rec is None:
            raise not_found()
        return EmuResponse.json(200, project(rec, requested_fields(request), LAZY_FIELDS))

    def _post_call(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        body = json_body(request)
        with self.state.transaction():
            rec = self.calls.create(body, self._origin(request), self._now())
        return EmuResponse.json(200, public(rec))  # 200 (not 201) with the full call

    def _put_call(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        body = json_body(request)
        with self.state.transaction():
            rec = self.calls.update(params["call_id"], body, self._origin(request), self._now())
        return EmuResponse.json(200, public(rec))

    def _delete_call(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        with self.state.transaction():
            self.calls.delete(params["call_id"], self._origin(request), self._now())
        return EmuResponse.json(200, {})

    def _events(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        return self.events.list(request, self._caller(request), self.clock.now())

    def _post_lead(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        with self.state.transaction():
            return self.people.post_lead(request, self._origin(request), self._now())

    def _post_contact(self, request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        with self.state.transaction():
            return self.people.post_contact(request, self._origin(request), self._now())


def _api_key(request: EmuRequest) -> str | None:
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, _, _password = decoded.partition(":")
    return username or None


def _as_get(request: EmuRequest) -> EmuRequest:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    params = body.get("_params") if isinstance(body, dict) else None
    if not isinstance(params, dict):
        params = {}
    pairs = [
        (key, ",".join(map(str, value)) if isinstance(value, list) else str(value))
        for key, value in params.items()
    ]
    return EmuRequest(
        "GET", request.path, (*request.query, *pairs), request.headers, b"", request.base_url
    )
