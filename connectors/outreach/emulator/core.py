"""``OutreachEmulator``: routes, the request pipeline's Outreach rules, and admin helpers.

See the package docstring (``connectors.outreach.emulator``) for the public surface.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict, Unpack

from connectors.emulation.base import ApiError, Emulator
from connectors.emulation.clock import Clock, SystemClock
from connectors.emulation.faults import FaultPlan
from connectors.emulation.http import EmuRequest, EmuResponse, Handler, Route, Router
from connectors.emulation.state import StateDB
from connectors.emulation.world import World
from connectors.outreach.emulator.calls import parse_new_call
from connectors.outreach.emulator.errors import render_outreach_error
from connectors.outreach.emulator.jsonapi import (
    MEDIA_TYPE,
    RESPONSE_CONTENT_TYPE,
    iso,
)
from connectors.outreach.emulator.listing import (
    Doc,
    ResourceSpec,
    get_doc,
    list_body,
    render,
)
from connectors.outreach.emulator.oauth import DEFAULT_SCOPE, TokenRules, TokenStore
from connectors.outreach.emulator.query import parse_list_query
from connectors.outreach.emulator.ratelimit import UserRateLimit
from connectors.outreach.emulator.seeding import seed
from connectors.outreach.emulator.store import (
    CALL_ATTRIBUTES,
    CALL_RELATIONSHIPS,
    OutreachStore,
    make_doc,
)
from connectors.outreach.emulator.world_calls import OutreachWorldCalls

API = "/api/v2"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
_LEVELS = {"GET": "read", "POST": "write", "DELETE": "delete"}


class OutreachTunables(TypedDict, total=False):
    """Constructor keywords; each defaults to the documented value (see ``EmulatorSettings``)."""

    access_token_ttl: float
    refresh_token_ttl: float
    refresh_tokens_kept: int
    token_mint_interval: float
    rate_limit: int
    rate_window: float
    dual_remaining_every: int
    page_size: int
    max_page_size: int
    disorder_every: int
    count_cap: int
    required_relationships: tuple[str, ...]


@dataclass(frozen=True)
class EmulatorSettings:
    access_token_ttl: float = 7200.0  # 2 h (doc §2.2)
    refresh_token_ttl: float = 14 * 86400.0  # 14 days
    refresh_tokens_kept: int = 100  # a refresh token dies after 100 newer ones
    token_mint_interval: float = 60.0  # one access token per user per minute; 0 = off
    rate_limit: int = 10_000  # requests per user per window (doc §2.10)
    rate_window: float = 3600.0
    dual_remaining_every: int = 4  # every Nth response has "a, b" in Remaining; 0 = never
    page_size: int = 50  # default page (doc §2.3)
    max_page_size: int = 1000
    disorder_every: int = 4  # one page in N comes slightly out of order; 0 = never
    count_cap: int = 10_000  # meta.count is truncated beyond this
    required_relationships: tuple[str, ...] = ("prospect", "user")


class OutreachEmulator(OutreachWorldCalls, Emulator):
    name: ClassVar[str] = "outreach"

    DEMO_CLIENT_ID: ClassVar[str] = "callsync-demo-outreach-client"
    DEMO_CLIENT_SECRET: ClassVar[str] = "callsync-demo-outreach-secret"  # noqa: S105 - demo only
    DEMO_REFRESH_TOKEN: ClassVar[str] = "callsync-demo-outreach-refresh"  # noqa: S105
    DEMO_REDIRECT_URI: ClassVar[str] = "http://127.0.0.1:8976/oauth/callback"
    DEFAULT_SCOPE: ClassVar[str] = DEFAULT_SCOPE

    def __init__(
        self,
        *,
        state: StateDB | None = None,
        clock: Clock | None = None,
        faults: FaultPlan | None = None,
        **tunables: Unpack[OutreachTunables],
    ) -> None:
        state = state or StateDB()
        clock = clock or SystemClock()
        self.settings = settings = EmulatorSettings(**tunables)
        self.store = OutreachStore(
            state, page_size=settings.page_size, max_page_size=settings.max_page_size
        )
        token_rules = TokenRules(
            access_ttl=settings.access_token_ttl,
            refresh_ttl=settings.refresh_token_ttl,
            refresh_keep=settings.refresh_tokens_kept,
            mint_interval=settings.token_mint_interval,
        )
        self.tokens = TokenStore(
            state, clock, token_rules, self.DEMO_CLIENT_ID, self.DEMO_CLIENT_SECRET
        )
        self.limits = UserRateLimit(
            clock,
            limit=settings.rate_limit,
            window=settings.rate_window,
            dual_every=settings.dual_remaining_every,
        )
        super().__init__(state=state, clock=clock, faults=faults)

    # --- routes -------------------------------------------------------------------------------

    def register_routes(self, router: Router) -> None:
        router.add("POST", TOKEN_PATH, self.tokens.token_endpoint)
        for spec in self.store.specs.values():
            router.add("GET", f"{API}/{spec.path}", self._api(self._lister(spec)))
            router.add("GET", f"{API}/{spec.path}/{{id}}", self._api(self._getter(spec)))
        router.add("POST", f"{API}/calls", self._api(self._create_call))
        router.add("DELETE", f"{API}/calls/{{id}}", self._api(self._delete_call))

    def _api(self, handler: Handler) -> Handler:
        """Checks every API request shares; errors are rendered here so that they keep the
        rate-limit headers the pipeline adds to every counted response."""

        def guarded(request: EmuRequest, params: dict[str, str]) -> EmuResponse:
            try:
                _require_media_type(request)
                return handler(request, params)
            except ApiError as error:
                return self.render_error(error)

        return guarded

    def _lister(self, spec: ResourceSpec) -> Handler:
        def handle(request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
            query = parse_list_query(request, spec.rules)
            body = list_body(
                spec, query, request, self.store.specs,
                disorder_every=self.settings.disorder_every, count_cap=self.settings.count_cap,
            )  # fmt: skip
            return _ok(200, body)

        return handle

    def _getter(self, spec: ResourceSpec) -> Handler:
        def handle(request: EmuRequest, params: dict[str, str]) -> EmuResponse:
            return _ok(200, {"data": render(spec, get_doc(spec, params["id"]), request.base_url)})

        return handle

    def _create_call(self, request: EmuRequest, _params: dict[str, str]) -> EmuResponse:
        attributes, relationships = parse_new_call(
            request.body, self._exists, self.settings.required_relationships
        )
        with self.state.transaction():
            stamp = iso(self.clock.now())
            doc = make_doc(self.store.allocate("call"), stamp, stamp, attributes, relationships)
            self.store.put_call(doc)
        # 201 with the record only: `include` is not honoured on create (doc §2.3).
        return _ok(201, {"data": render(self._calls, doc, request.base_url)})

    def _delete_call(self, _request: EmuRequest, params: dict[str, str]) -> EmuResponse:
        with self.state.transaction():
            doc = get_doc(self._calls, params["id"])
            self.store.calls.delete(doc["id"])
        return EmuResponse.empty(204)

    def _exists(self, relationship: str, ident: int) -> bool:
        kind = CALL_RELATIONSHIPS[relationship]
        spec = self.store.specs.get(kind)
        return spec is None or spec.collection.get(ident) is not None

    @property
    def _calls(self) -> ResourceSpec:
        return self.store.specs["call"]

    # --- the pipeline's vendor rules ------------------------------------------------------------

    def authenticate(self, request: EmuRequest, route: Route) -> str:
        if route.name == TOKEN_PATH:
            return "oauth-client"
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        grant = self.tokens.grant_for(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            # Expired or unknown token -> 401 (doc §2.11). Body shape unconfirmed: JSON:API.
            raise ApiError(
                401, "unauthorized", "The access token is invalid or has expired.",
                {"www-authenticate": 'Bearer realm="Doorkeeper", error="invalid_token"'},
            )  # fmt: skip
        required = f"{route.name.removeprefix(API + '/').split('/')[0]}.{_LEVELS[route.method]}"
        if not grant.allows(required):
            detail = f"Your authorization does not include the required scope '{required}'."
            raise ApiError(403, "unauthorizedOauthScope", detail)
        return f"user:{grant.user}"

    def admit(self, request: EmuRequest, route: Route, caller: str) -> dict[str, str]:
        if caller == "oauth-client":
            return {}
        return self.limits.admit(caller)

    def rate_limited(self, request: EmuRequest) -> ApiError:
        return self.limits.injected()

    def expire_tokens(self) -> None:
        self.tokens.expire_all()

    def render_error(self, error: ApiError) -> EmuResponse:
        return render_outreach_error(error, self.clock.now())

    # --- admin helpers: act as a user in Outreach's UI, without HTTP -----------------------------

    def seed_world(self, world: World) -> None:
        """Fill the org from ``world`` once (a no-op on a state that is already seeded) and
        make ``DEMO_REFRESH_TOKEN`` valid for the first user until it is first spent."""
        with self.store.bulk_ids():
            if self.state.get_meta("outreach.seeded"):
                return
            user = seed(self.store, world)
            self.tokens.install_refresh_token(
                self.DEMO_REFRESH_TOKEN, user, DEFAULT_SCOPE, expires=False
            )
            self.state.set_meta("outreach.demo_user", str(user))
            self.state.set_meta("outreach.seeded", "1")

    def reauthorise(self, token: str) -> None:
        """The admin consents again after the refresh chain broke (a rotated token's answer was
        lost): ``token`` becomes a valid refresh token for the seeded user."""
        user = int(self.state.get_meta("outreach.demo_user") or 1)
        self.tokens.install_refresh_token(token, user, DEFAULT_SCOPE, expires=False)

    def issue_authorization_code(
        self, user_id: int, scope: str = DEFAULT_SCOPE, redirect_uri: str | None = None
    ) -> str:
        """What ``/oauth/authorize`` hands the app after ``user_id`` consents to ``scope``."""
        return self.tokens.issue_code(user_id, scope, redirect_uri or self.DEMO_REDIRECT_URI)

    def add_prospect(
        self,
        *,
        first_name: str,
        last_name: str,
        emails: Sequence[str] = (),
        phones: Mapping[str, Sequence[str]] | None = None,
        company: str | None = None,
        owner_id: int | None = None,
    ) -> int:
        """A new prospect; ``phones`` maps ``workPhones``/``mobilePhones``/... to numbers."""
        with self.state.transaction():
            ident, _ = self.store.add_prospect(
                first=first_name, last=last_name, emails=emails, phones=phones or {},
                company=company, owner=owner_id, at=self.clock.now(),
            )  # fmt: skip
        return ident

    def add_call(
        self,
        *,
        prospect_id: int | None,
        user_id: int,
        attributes: Mapping[str, Any] | None = None,
        relationships: Mapping[str, int | None] | None = None,
    ) -> int:
        """A call a rep logs in the UI now; ``createdAt`` and ``updatedAt`` are the clock's."""
        rels: Doc = dict.fromkeys(CALL_RELATIONSHIPS)
        rels.update({"prospect": prospect_id, "user": user_id, **(relationships or {})})
        with self.state.transaction():
            stamp = iso(self.clock.now())
            doc = make_doc(
                self.store.allocate("call"), stamp, stamp, dict.fromkeys(CALL_ATTRIBUTES), rels
            )
            _apply_changes(doc, attributes or {})
            self.store.put_call(doc)
        return int(doc["id"])

    def edit_call(self, call_id: int, changes: Mapping[str, Any]) -> None:
        """Change attributes and/or relationship ids of a call, as a user or a workflow in
        Outreach would; ``updatedAt`` becomes now (second precision)."""
        with self.state.transaction():
            doc = self.store.calls.get(call_id)
            if doc is None:
                raise KeyError(call_id)
            _apply_changes(doc, changes)
            doc["updatedAt"] = doc["attributes"]["updatedAt"] = iso(self.clock.now())
            self.store.put_call(doc)

    def delete_call(self, call_id: int) -> bool:
        """Delete a call as a user would; there is no tombstone (doc §2.8)."""
        return self.store.calls.delete(call_id)

    def call(self, call_id: int, base_url: str = "https://api.outreach.io") -> Doc | None:
        """The call as ``GET /calls/{id}`` would show it, or None."""
        doc = self.store.calls.get(call_id)
        return None if doc is None else render(self._calls, doc, base_url)

    def iter_calls(self, base_url: str = "https://api.outreach.io") -> Iterator[Doc]:
        """Every stored call, in id order, as the API shows them."""
        for stored in self.store.calls.scan():
            yield render(self._calls, stored.doc, base_url)


def _apply_changes(doc: Doc, changes: Mapping[str, Any]) -> None:
    for name, value in changes.items():
        if name in CALL_RELATIONSHIPS:
            doc["rels"][name] = value
        elif name in CALL_ATTRIBUTES and name not in ("createdAt", "updatedAt"):
            doc["attributes"][name] = value
        else:
            raise ValueError(f"{name!r} is not a writable call attribute or relationship")


def _require_media_type(request: EmuRequest) -> None:
    """Every request must say ``Content-Type: application/vnd.api+json`` (doc §2.1), GETs
    included; JSON:API 1.0 also forbids media type parameters (``; charset=...``)."""
    declared = (request.header("content-type") or "").strip().lower()
    if declared != MEDIA_TYPE:
        detail = f"Expected Content-Type header to be '{MEDIA_TYPE}'."
        raise ApiError(415, "unsupportedMediaType", detail)


def _ok(status: int, body: Doc) -> EmuResponse:
    return EmuResponse.json(status, body, content_type=RESPONSE_CONTENT_TYPE)
