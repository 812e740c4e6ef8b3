"""The emulator base class: one request pipeline shared by all four vendors.

Pipeline for every request: scripted/random faults -> vendor authentication -> vendor rate
limits -> route handler -> response faults; then seeded media paths in JSON answers become URLs
on the emulator's own base URL (``media``), which serves them (``GET /recordings/...``).
Each step that fails answers in the vendor's own error shape (``render_error``), so connectors
see exactly what the real API would send.
"""

from __future__ import annotations

import abc
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connectors.emulation import media
from connectors.emulation.clock import Clock, SystemClock
from connectors.emulation.faults import FaultKind, FaultPlan, ScriptedFault
from connectors.emulation.http import EmuRequest, EmuResponse, Route, Router, TransportFault
from connectors.emulation.state import StateDB
from connectors.emulation.world import World, WorldCall


def world_call_key(call: WorldCall) -> str:
    """The state meta key under which a vendor remembers the remote id of a late world call."""
    return f"world.call.{call.key}"


@dataclass
class ApiError(Exception):
    """An error a handler raises; the emulator renders it in the vendor's shape."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


@dataclass
class RequestStats:
    """What the emulator was asked, for tests that count requests."""

    by_route: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_route.values())

    def reset(self) -> None:
        self.by_route.clear()
        self.statuses.clear()


class Emulator(abc.ABC):
    """Base of every vendor emulator. Subclasses register routes and the vendor's rules."""

    name: ClassVar[str]

    def __init__(
        self,
        *,
        state: StateDB | None = None,
        clock: Clock | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.state = state or StateDB()
        self.clock = clock or SystemClock()
        self.faults = faults or FaultPlan()
        self.stats = RequestStats()
        self.router = Router()
        self.register_routes(self.router)
        self.router.add("GET", media.ROUTE, media.serve_recording, public=True)

    # --- what a vendor defines -------------------------------------------------------------

    @abc.abstractmethod
    def register_routes(self, router: Router) -> None:
        """Add the vendor's endpoints to ``router``."""

    @abc.abstractmethod
    def render_error(self, error: ApiError) -> EmuResponse:
        """The vendor's error envelope for ``error``."""

    def seed_world(self, world: World) -> None:
        """Fill the account with the world's users, contacts and calls, in vendor vocabulary."""
        raise NotImplementedError(f"{type(self).__name__} cannot be seeded")

    def authenticate(self, request: EmuRequest, route: Route) -> str:
        """Check credentials and return the caller's key (per-credential limits use it).

        Raise ``ApiError`` (401/403) when the request is not authorised.
        """
        return "anonymous"

    def admit(self, request: EmuRequest, route: Route, caller: str) -> dict[str, str]:
        """Apply the vendor's rate limits; return headers to add, or raise a 429 ``ApiError``."""
        return {}

    def rate_limited(self, request: EmuRequest) -> ApiError:
        """The 429 a random/scripted RATE_LIMIT fault answers with."""
        return ApiError(429, "rate_limited", "Too many requests", {"retry-after": "1"})

    def expire_tokens(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Forget issued access tokens early (OAuth vendors override this)."""

    # --- what a rep does in the tool, for the demo and tests (vendor-neutral) ---------------

    def log_world_call(self, call: WorldCall) -> str:
        """Log ``call`` now, as the rep's tool would have (a call arriving after the seeding,
        e.g. one of ``World.arrivals()``); returns its remote id. Visible to the next pull."""
        raise NotImplementedError(f"{type(self).__name__} cannot log world calls")

    def edit_world_call(self, call: WorldCall, *, note: str) -> None:
        """Change the note of ``call`` (logged by :meth:`log_world_call`), as a rep would."""
        raise NotImplementedError(f"{type(self).__name__} cannot edit world calls")

    def delete_world_call(self, call: WorldCall) -> None:
        """Delete ``call`` (logged by :meth:`log_world_call`) in the tool, as a rep would."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete world calls")

    def add_malformed_call(self, call: WorldCall) -> tuple[str, str]:
        """A new record like ``call`` but with one field the vendor's connector cannot map, so
        its pull quarantines it; returns (remote id, the broken field and value)."""
        raise NotImplementedError(f"{type(self).__name__} cannot add malformed calls")

    def world_call_id(self, call: WorldCall) -> str:
        """The remote id :meth:`log_world_call` gave ``call``; KeyError if it did not log it."""
        remote_id = self.state.get_meta(world_call_key(call))
        if remote_id is None:
            raise KeyError(f"world call {call.key} was not logged here")
        return remote_id

    # --- the pipeline ----------------------------------------------------------------------

    def handle(self, request: EmuRequest) -> EmuResponse:
        route, params, path_known = self.router.match(request.method, request.path)
        self.stats.by_route[f"{request.method} {route.name if route else request.path}"] += 1
        response = self._answer(request, route, params, path_known)
        self.stats.statuses[response.status] += 1
        if "json" in response.headers.get("content-type", ""):
            response.body = media.resolve_paths(response.body, request.base_url)
        return response

    def _answer(
        self, request: EmuRequest, route: Route | None, params: dict[str, str], path_known: bool
    ) -> EmuResponse:
        faults = self.faults.draw(request.method, request.path)
        early = self._fault_before(request, faults)
        if early is not None:
            return early
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        extra_headers: dict[str, str] = {}
        try:
            if route is None:
                raise ApiError(405 if path_known else 404, "not_found", "No such endpoint")
            if not route.public:
                caller = self.authenticate(request, route)
                extra_headers = self.admit(request, route, caller)
            response = route.handler(request, params)
        except ApiError as error:
            # Rate-limit headers of an admitted request belong on its error answer too.
            response = self.render_error(error)
        response.headers.update({k.lower(): v for k, v in extra_headers.items()})
        return self._fault_after(response, faults)

    def _fault_before(self, request: EmuRequest, faults: list[ScriptedFault]) -> EmuResponse | None:
        for fault in faults:
            if fault.kind is FaultKind.DROP:
                return EmuResponse(0, transport_fault=TransportFault.DROP_BEFORE)
            if fault.kind is FaultKind.TIMEOUT:
                return EmuResponse(0, transport_fault=TransportFault.TIMEOUT)
            if fault.kind is FaultKind.RATE_LIMIT:
                return self.render_error(self.rate_limited(request))
            if fault.kind is FaultKind.SERVER_ERROR:
                status = fault.status or 500
                return self.render_error(ApiError(status, "server_error", "Internal error"))
            if fault.kind is FaultKind.REFUSED:
                status = fault.status or 404
                return self.render_error(ApiError(status, "refused", "Refused (injected fault)"))
            if fault.kind is FaultKind.EXPIRE_TOKEN:
                self.expire_tokens()
        return None

    def _fault_after(self, response: EmuResponse, faults: list[ScriptedFault]) -> EmuResponse:
        for fault in faults:
            if fault.kind is FaultKind.DROP_AFTER_COMMIT:
                response.transport_fault = TransportFault.DROP_AFTER
            elif fault.kind is FaultKind.MALFORMED and response.body:
                response.body = response.body[: max(1, len(response.body) // 2)]
        return response
