"""``PipedriveEmulator``: routes, API-token auth, rate limits, error shape, admin helpers."""

from __future__ import annotations

from collections.abc import Callable
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
    World,
)
from connectors.emulation.http import Route
from connectors.pipedrive.emulator.activities import (
    ActivityRoutes,
    activity_types,
    apply_changes,
    check_activity_body,
)
from connectors.pipedrive.emulator.calllogs import (
    CallLogRoutes,
    resolve_references,
    validate_call_log,
)
from connectors.pipedrive.emulator.people import PersonRoutes, UserRoutes
from connectors.pipedrive.emulator.ratelimits import (
    SEARCH_ROUTES,
    TOKEN_COSTS,
    TOKENS_PER_SEAT,
    LimitSettings,
    PipedriveLimits,
)
from connectors.pipedrive.emulator.records import demo_api_token, render_activity, render_call_log
from connectors.pipedrive.emulator.seeding import seed_world
from connectors.pipedrive.emulator.store import PipedriveStore
from connectors.pipedrive.emulator.wire import (
    CLOUDFLARE,
    ERROR_INFO,
    UNAUTHORIZED,
    not_found,
    ok,
    rfc3339,
)
from connectors.pipedrive.emulator.world_calls import PipedriveWorldCalls

UserHandler = Callable[[dict[str, Any], EmuRequest, dict[str, str]], EmuResponse]

# Pipedrive's texts for the framework's own errors (unknown path, injected 5xx).
_SERVER_ERRORS = {
    500: "An internal server error occurred",
    502: "Bad gateway",
    503: "Service is temporarily unavailable (maintenance)",
    504: "Gateway timeout",
}


class PipedriveEmulator(PipedriveWorldCalls, Emulator):
    """A Pipedrive company: see the package docstring for what is emulated."""

    name = "pipedrive"
    DEMO_API_TOKEN: ClassVar[str] = demo_api_token("u1")  # the first world user, an admin
    DEMO_COMPANY_DOMAIN: ClassVar[str] = "callsync-demo"

    def __init__(
        self,
        *,
        state: StateDB | None = None,
        clock: Clock | None = None,
        faults: FaultPlan | None = None,
        daily_budget: int | None = None,
        plan_multiplier: int = 1,
        burst_limit: int = 20,
        search_burst_limit: int = 10,
        burst_window_seconds: float = 2.0,
        hammer_limit: int | None = 10,
        daily_headers_missing_every: int = 10,
        call_logs_page_max: int = 50,
        activities_page_max: int = 500,
        purge_after_days: int = 30,
        company_domain: str = DEMO_COMPANY_DOMAIN,
    ) -> None:
        state = state or StateDB()
        clock = clock or SystemClock()
        self.store = PipedriveStore(state, clock)
        self.daily_budget = daily_budget
        self.plan_multiplier = plan_multiplier
        self.limits = PipedriveLimits(
            LimitSettings(
                burst_limit=burst_limit,
                search_burst_limit=search_burst_limit,
                window_seconds=burst_window_seconds,
                hammer_limit=hammer_limit,
                daily_headers_missing_every=daily_headers_missing_every,
            ),
            clock,
            self._budget_size,
        )
        self.call_log_routes = CallLogRoutes(self.store, page_max=call_logs_page_max)
        self.activity_routes = ActivityRoutes(
            self.store, page_max=activities_page_max, purge_after_days=purge_after_days
        )
        self.user_routes = UserRoutes(self.store, company_domain)
        self.person_routes = PersonRoutes(self.store)
        super().__init__(state=state, clock=clock, faults=faults)

    def _budget_size(self) -> int:
        """30,000 x plan multiplier x seats, unless a fixed budget was given (§2.9)."""
        if self.daily_budget is not None:
            return self.daily_budget
        return TOKENS_PER_SEAT * self.plan_multiplier * max(1, self.store.seats())

    # --- routes -------------------------------------------------------------------------------

    def register_routes(self, router: Router) -> None:
        v1: list[tuple[str, str, UserHandler]] = [
            ("GET", "/callLogs", self.call_log_routes.list_call_logs),
            ("POST", "/callLogs", self.call_log_routes.create),
            ("GET", "/callLogs/{id}", self.call_log_routes.get),
            ("DELETE", "/callLogs/{id}", self.call_log_routes.delete),
            ("POST", "/callLogs/{id}/recordings", self.call_log_routes.add_recording),
            ("GET", "/users/me", self.user_routes.me),
            ("GET", "/users/find", self.user_routes.find),
            ("GET", "/users", self.user_routes.all),
            ("GET", "/users/{id}", self.user_routes.get),
            ("GET", "/persons/search", self.person_routes.search_v1),
            ("GET", "/activityTypes", lambda *_: ok(activity_types())),
        ]
        for method, path, handler in v1:
            # Both v1 forms exist (§2.2): api.pipedrive.com/v1 and {domain}/api/v1.
            for prefix in ("/v1", "/api/v1"):
                router.add(method, prefix + path, self._wrap(handler), name="/v1" + path)
        v2: list[tuple[str, str, UserHandler]] = [
            ("GET", "/activities", self.activity_routes.list_activities),
            ("POST", "/activities", self.activity_routes.create),
            ("GET", "/activities/{id}", self.activity_routes.get),
            ("PATCH", "/activities/{id}", self.activity_routes.patch),
            ("DELETE", "/activities/{id}", self.activity_routes.delete),
            ("GET", "/persons/search", self.person_routes.search_v2),
            ("GET", "/persons/{id}", self.person_routes.get),
        ]
        for method, path, handler in v2:
            router.add(method, "/api/v2" + path, self._wrap(handler), name="/api/v2" + path)

    def _wrap(self, handler: UserHandler) -> Callable[[EmuRequest, dict[str, str]], EmuResponse]:
        """Resolve the caller, and render vendor errors here so that the rate-limit headers
        ``admit`` returned still reach error responses (Pipedrive sends them on every answer)."""

        def route(request: EmuRequest, params: dict[str, str]) -> EmuResponse:
            user = self.store.user_by_token(request.header("x-api-token") or "")
            try:
                if user is None:  # the token was revoked between authenticate and here
                    raise self._unauthorized()
                return handler(user, request, params)
            except ApiError as error:
                return self.render_error(error)

        return route

    # --- the vendor's rules -------------------------------------------------------------------

    def authenticate(self, request: EmuRequest, route: Route) -> str:
        """``x-api-token`` only. UNCONFIRMED whether ``?api_token=`` still works: the strict
        reading is that it does not, so a query-string token is a 401 here."""
        token = request.header("x-api-token")
        if not token or self.store.user_by_token(token) is None:
            raise self._unauthorized()
        return token

    def admit(self, request: EmuRequest, route: Route, caller: str) -> dict[str, str]:
        cost = TOKEN_COSTS[(route.method, route.name)]
        return self.limits.admit(caller, cost, search=route.name in SEARCH_ROUTES)

    def rate_limited(self, request: EmuRequest) -> ApiError:
        return self.limits.burst_error()

    def render_error(self, error: ApiError) -> EmuResponse:
        if error.code == CLOUDFLARE:
            # Past the hammering threshold the edge answers, in HTML, not the API (§2.9 [P-3p]).
            return EmuResponse(403, error.message.encode(), {"content-type": "text/html"})
        message = error.message
        if error.code == "not_found":  # the framework's unknown path / wrong method
            message = "Unknown method ."
        elif error.code == "server_error":
            message = _SERVER_ERRORS.get(error.status, _SERVER_ERRORS[500])
        payload: dict[str, Any] = {
            "success": False,
            "error": message,
            "error_info": ERROR_INFO,
            "data": None,
            "additional_data": None,
        }
        payload.update(error.extra)
        return EmuResponse.json(error.status, payload, error.headers)

    @staticmethod
    def _unauthorized() -> ApiError:
        # The gateway's 401 carries errorCode (§2.10).
        return ApiError(401, UNAUTHORIZED, "unauthorized access", extra={"errorCode": 401})

    # --- seeding and admin helpers (acting as a user in Pipedrive's UI, no HTTP) --------------

    def seed_world(self, world: World) -> None:
        """Fill an empty company from ``world`` (see ``seeding`` for what it creates)."""
        seed_world(self.store, world)

    def api_token_for(self, user_id: int) -> str:
        user = self.store.user(user_id)
        if user is None:
            raise KeyError(user_id)
        return str(user["api_token"])

    def user_ids(self) -> list[int]:
        return [int(user["id"]) for user in self.store.all_users()]

    def user_id_for_token(self, token: str) -> int:
        user = self.store.user_by_token(token)
        if user is None:
            raise KeyError(token)
        return int(user["id"])

    def add_user(
        self, name: str, email: str, phone: str | None = None, *, admin: bool = False
    ) -> tuple[int, str]:
        """A new user (a new seat: the default daily budget grows); returns (id, API token)."""
        token = demo_api_token(f"user:{email}")
        user = self.store.add_user(name, email, phone, admin=admin, token=token)
        return int(user["id"]), token

    def add_person(
        self,
        name: str,
        *,
        phones: list[str] | None = None,
        emails: list[str] | None = None,
        org_id: int | None = None,
        owner_id: int | None = None,
    ) -> int:
        return self.store.add_person(
            name, phones=phones or [], emails=emails or [], org_id=org_id, owner_id=owner_id
        )

    def delete_person(self, person_id: int) -> bool:
        return self.store.delete_person(person_id)

    def add_org(self, name: str, owner_id: int | None = None) -> int:
        return self.store.add_org(name, owner_id)

    def add_deal(
        self, title: str, *, person_id: int | None = None, org_id: int | None = None
    ) -> int:
        return self.store.add_deal(title, person_id=person_id, org_id=org_id, user_id=None)

    def add_lead(
        self, title: str, *, person_id: int | None = None, org_id: int | None = None
    ) -> str:
        return self.store.add_lead(title, person_id=person_id, org_id=org_id)

    def add_call_log(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """Log a call as ``user_id`` would (same validation as ``POST /v1/callLogs``)."""
        user = self.store.user(user_id)
        if user is None:
            raise KeyError(user_id)
        data = resolve_references(self.store, validate_call_log(fields, user_id), user)
        return render_call_log(self.store.create_call_log(data))

    def call_log(self, log_id: str) -> dict[str, Any] | None:
        log = self.store.call_log(log_id)
        return None if log is None else render_call_log(log)

    def delete_call_log(self, log_id: str) -> None:
        log = self.store.call_log(log_id)
        if log is None:
            raise not_found()
        self.store.delete_call_log(log)

    def activity(self, activity_id: int) -> dict[str, Any] | None:
        found = self.store.activity(activity_id)
        return None if found is None else render_activity(found)

    def edit_activity(self, activity_id: int, **changes: Any) -> dict[str, Any]:
        """Edit like the UI does: any writable v2 field; ``update_time`` moves to now."""
        activity = self.store.activity(activity_id)
        if activity is None or activity["is_deleted"]:
            raise not_found("Activity not found")
        apply_changes(activity, check_activity_body(changes), rfc3339(self.store.now()))
        self.store.put_activity(activity)
        self.store.sync_call_log_from_activity(activity)
        return render_activity(activity)

    def delete_activity(self, activity_id: int) -> None:
        """Soft delete, as ``DELETE /api/v2/activities/{id}`` does."""
        activity = self.store.activity(activity_id)
        if activity is None or activity["is_deleted"]:
            raise not_found("Activity not found")
        self.store.soft_delete_activity(activity)

    def recording_bytes(self, log_id: str) -> bytes | None:
        """The exact bytes uploaded for a call log (Pipedrive exposes no URL to read them)."""
        return self.store.recording(log_id)

    def daily_tokens_remaining(self) -> int:
        return self.limits.daily_remaining()

    def spend_daily_tokens(self, tokens: int) -> None:
        """Another integration of the company spends the shared budget (§2.11k)."""
        self.limits.spend_outside_api(tokens)
