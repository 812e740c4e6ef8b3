"""``AmplemarketEmulator``: routes, API-key auth, rate limits and the error shape."""

from __future__ import annotations

import threading
from typing import ClassVar

from connectors.amplemarket.emulator import wire
from connectors.amplemarket.emulator.admin import AmplemarketAdmin
from connectors.amplemarket.emulator.calls_api import CallsApi
from connectors.amplemarket.emulator.directory_api import DirectoryApi
from connectors.amplemarket.emulator.store import AmplemarketStore
from connectors.amplemarket.emulator.tunables import Tunables
from connectors.amplemarket.emulator.world_calls import AmplemarketWorldCalls
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
from connectors.emulation.limits import SlidingWindow

RECORDING_ROUTE = "/calls/{id}/recording"


class AmplemarketEmulator(AmplemarketWorldCalls, AmplemarketAdmin, Emulator):
    """The Amplemarket API at its origin (``https://api.amplemarket.com``, no ``/v1``, §1.1)."""

    name = "amplemarket"
    DEMO_API_KEY: ClassVar[str] = "amp_demo_key_callsync_0001"

    def __init__(
        self,
        *,
        state: StateDB | None = None,
        clock: Clock | None = None,
        faults: FaultPlan | None = None,
        default_page_size: int = 20,
        max_page_size: int = 100,
        requests_per_minute: int = 500,
        recordings_per_hour: int = 50,
        recording_max_bytes: int = 25 * 1024 * 1024,
        accept_calls_on_closed_tasks: bool = False,
    ) -> None:
        state = state or StateDB()
        clock = clock or SystemClock()
        self.tunables = Tunables(
            default_page_size,
            max_page_size,
            requests_per_minute,
            recordings_per_hour,
            recording_max_bytes,
            accept_calls_on_closed_tasks,
        )
        self.store = AmplemarketStore(state)
        self._calls = CallsApi(self.store, clock, self.tunables)
        self._directory = DirectoryApi(self.store, self.tunables)
        # Rate-limit counters stay in memory (a restarted vendor forgets them too).
        self._per_minute = SlidingWindow(requests_per_minute, 60, clock)
        self._recordings = SlidingWindow(recordings_per_hour, 3600, clock)
        self._limits_lock = threading.Lock()
        super().__init__(state=state, clock=clock, faults=faults)

    def register_routes(self, router: Router) -> None:
        router.add("GET", "/account-info", self._directory.account_info)
        router.add("GET", "/users", self._directory.list_users)
        router.add("GET", "/tasks", self._directory.list_tasks)
        router.add("GET", "/calls", self._calls.list_calls)
        router.add("POST", "/calls", self._calls.create_call)
        router.add("GET", "/calls/dispositions", self._calls.list_dispositions)
        router.add("GET", RECORDING_ROUTE, self._calls.get_recording)

    def render_error(self, error: ApiError) -> EmuResponse:
        return wire.render_error(error)

    def authenticate(self, request: EmuRequest, route: Route) -> str:
        """``Authorization: Bearer <api key>`` on every endpoint (§1.2); no OAuth."""
        scheme, _, key = (request.header("authorization") or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "unauthorized", "Missing API key")
        if key not in self.store.api_keys():
            raise ApiError(401, "unauthorized", "Invalid API key")
        return key

    def admit(self, request: EmuRequest, route: Route, caller: str) -> dict[str, str]:
        """500 requests/minute per key on every endpoint, plus 50/hour on recordings (§1.12).

        A recording download counts against both (the stricter reading). No rate-limit headers
        are sent on any response (§1.12: none documented).
        """
        windows = [self._per_minute]
        if route.name == RECORDING_ROUTE:
            windows.append(self._recordings)
        with self._limits_lock:
            if any(window.remaining(caller) < 1 for window in windows):
                raise self.rate_limited(request)
            for window in windows:
                window.hit(caller)
        return {}

    def rate_limited(self, request: EmuRequest) -> ApiError:
        # 429 with no Retry-After and no rate-limit headers (§1.12): clients back off on
        # their own. The body code is unconfirmed.
        return ApiError(429, "rate_limit_exceeded", "Rate limit exceeded")
