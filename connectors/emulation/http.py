"""Request/response types the emulators speak, and a small path router.

Both adapters (in-process httpx transport and loopback HTTP server) convert to and from these,
so an emulator's behaviour is identical however it is reached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl, urlencode


class TransportFault(Enum):
    """What the adapter must do to the connection instead of (or after) answering."""

    DROP_BEFORE = "drop_before"  # connection closed, the request never reached the handler
    DROP_AFTER = "drop_after"  # the handler ran and committed, then the response was lost
    TIMEOUT = "timeout"  # no answer within the client's read timeout


@dataclass(frozen=True)
class EmuRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # keys lower-cased
    body: bytes = b""
    base_url: str = "http://emulator.local"

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        *,
        query: str | Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        base_url: str = "http://emulator.local",
    ) -> EmuRequest:
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        return cls(method.upper(), path, tuple(pairs), lowered, body, base_url.rstrip("/"))

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name`` (as most frameworks resolve repeats)."""
        found = default
        for key, value in self.query:
            if key == name:
                found = value
        return found

    def args(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def url_with(self, path: str, params: Iterable[tuple[str, str]]) -> str:
        """An absolute URL on this emulator (for vendors whose links are absolute)."""
        encoded = urlencode(list(params))
        return f"{self.base_url}{path}" + (f"?{encoded}" if encoded else "")


@dataclass
class EmuResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    transport_fault: TransportFault | None = None

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> EmuResponse:
        body = json.dumps(payload, separators=(",", ":")).encode()
        merged = {
            "content-type": content_type,
            **{k.lower(): v for k, v in (headers or {}).items()},
        }
        return cls(status, body, merged)

    @classmethod
    def empty(cls, status: int = 204, headers: Mapping[str, str] | None = None) -> EmuResponse:
        return cls(status, b"", {k.lower(): v for k, v in (headers or {}).items()})


Handler = Callable[[EmuRequest, dict[str, str]], EmuResponse]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    public: bool = False  # served without credentials or rate limits (media links)


class Router:
    """Maps ``METHOD /path/{param}`` to handlers; path params come back as strings."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        name: str | None = None,
        *,
        public: bool = False,
    ) -> None:
        regex = re.sub(
            r"\{(\w+)\}",
            r"(?P<\1>[^/]+)",
            re.escape(template).replace(r"\{", "{").replace(r"\}", "}"),
        )
        self._routes.append(
            Route(method.upper(), re.compile(f"^{regex}$"), name or template, handler, public)
        )

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """The route for a request, its path params, and whether the path exists at all."""
        path_known = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            path_known = True
            if route.method == method:
                return route, found.groupdict(), True
        return None, {}, path_known
