"""The YAML configuration: one file, validated completely before anything else happens.

Every problem (bad YAML, an unknown key, a missing ``${VAR}``, a route naming an unknown
connection, an unknown connector kind, a bad mapping override) becomes a :class:`ConfigError`
naming the file, the line and the field path. Vendor-specific keys of a connection are validated
by that vendor's settings model, found through the connector registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

import connectors
from connectors.base import ConnectionSettings, Interval, WriteOptions
from syncer.conflicts import FIELDS, Policy
from syncer.errors import DatabaseUrlError
from syncer.mapping import MappingError, MappingOverrides, load_tables
from syncer.model import Direction, Outcome
from syncer.store.url import check_url
from syncer.yamlsource import LocatedDocument, Path_, SourceError, SourceErrors, format_path, load

DEFAULT_DATABASE_URL = "sqlite:///callsync.db"


class ConfigError(Exception):
    """One or more problems in the config file; ``str()`` has one line per problem."""

    def __init__(self, problems: list[SourceError]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Strict):
    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _openable(cls, url: str) -> str:
        # The shape and the driver only: whether the file or server is there is for the
        # command that opens it (the config may be checked on another machine).
        try:
            check_url(url)
        except DatabaseUrlError as error:
            raise PydanticCustomError("database_url", "{reason}", {"reason": str(error)}) from None
        return url


class DefaultsConfig(_Strict):
    phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")


class ScheduleConfig(_Strict):
    """How ``callsync run`` schedules its jobs (``syncer/daemon.py``)."""

    default_every: Interval = timedelta(minutes=5)
    # A running job gets this long after SIGTERM to finish its page or write and commit.
    shutdown_grace: Interval = timedelta(seconds=30)
    # The longest a failing connection waits before its next attempt (backoff doubles to it).
    max_backoff: Interval = timedelta(hours=1)
    # ``host:port`` of the /healthz, /readyz and /metrics listener; None: no listener.
    http: str | None = Field(default=None, pattern=r"^[^:\s]+:\d{1,5}$")


class RouteFilters(_Strict):
    """Which calls of the source a route carries; an empty filter carries every call."""

    outcomes: list[Outcome] | None = None
    directions: list[Direction] | None = None
    min_duration_seconds: int | None = Field(default=None, ge=0)
    user_emails: list[str] | None = None


class RouteWrite(_Strict):
    """What writing into the targets of a route may do beyond logging the call."""

    create_missing_contacts: bool = False
    recreate_on_change: bool = False
    # A twin a rep logged by hand is linked and left alone; true: source edits are written
    # onto it too (it is never deleted either way).
    update_twins: bool = False

    def options(self) -> WriteOptions:
        return WriteOptions(self.create_missing_contacts, self.recreate_on_change)


class GuardConfig(_Strict):
    """The mass-change guard (``syncer/guard.py``): a run that would delete or rewrite more
    than this of what a route wrote into a target (or a sweep that would tombstone more than
    this of a connection's stored calls) stops first and asks for ``--force``."""

    max_share: float = Field(default=0.10, gt=0, le=1)
    max_count: int | None = Field(default=None, ge=0)
    # Below this many changes the share is not checked: in a small store one edit is a large
    # share of it (``max_count`` still applies).
    min_count: int = Field(default=10, ge=0)


Deletions = Literal["ignore", "mark", "propagate"]


class RouteConflicts(_Strict):
    """Who wins when a source and a target disagree on a field (``syncer/conflicts.py``).
    Default ("latest"): the side changed most recently, per field; an edit made in the target
    on callsync's copy is kept while the source leaves that field alone."""

    prefer: list[str] = Field(default_factory=list)  # connection names, the strongest first
    never_overwrite: list[str] = Field(default_factory=list)  # canonical fields reps own

    @field_validator("never_overwrite")
    @classmethod
    def _known_fields(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown call field(s) {unknown}; known: {', '.join(FIELDS)}")
        return names

    def policy(self) -> Policy:
        return Policy(tuple(self.prefer), frozenset(self.never_overwrite))


class RouteConfig(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from")
    targets: list[str] = Field(alias="to", min_length=1)
    filters: RouteFilters = RouteFilters()
    write: RouteWrite = RouteWrite()
    # What a call deleted at its source does to the copy callsync wrote (``syncer/deletions``).
    deletions: Deletions = "ignore"
    guard: GuardConfig | None = None  # only the keys given override the top-level ``guard``
    conflicts: RouteConflicts = RouteConflicts()

    @model_validator(mode="after")
    def _no_self_route(self) -> RouteConfig:
        if self.source in self.targets:
            raise ValueError(f"route from {self.source!r} lists itself as a target")
        return self


_ENGINE_KEYS = frozenset({"kind", "every", "phone_region", "mapping"})


class ConnectionConfig(_Strict):
    """The engine's keys of a connection; all other keys belong to the vendor's settings."""

    kind: str
    every: Interval | None = None
    phone_region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    mapping: MappingOverrides | None = None
    # The vendor's keys (credentials among them) as written; validated into ``settings`` and
    # kept out of repr and dumps so a printed config never shows a secret.
    vendor_keys: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)
    _settings: ConnectionSettings | None = PrivateAttr(default=None)
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split_vendor_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        engine = {key: value for key, value in data.items() if key in _ENGINE_KEYS}
        vendor = {key: value for key, value in data.items() if key not in _ENGINE_KEYS}
        return {**engine, "vendor_keys": vendor}

    def origin(self, key: str) -> str | None:
        """Where the value of vendor key ``key`` comes from, in words an admin acts on:
        the config key, the file, and the environment variable it names (never the value)."""
        return self._origins.get(key)

    @property
    def settings(self) -> ConnectionSettings:
        if self._settings is None:
            raise RuntimeError("connection settings are validated by load_config")
        return self._settings


class MatchingConfig(_Strict):
    """When a call read from one tool and one read from another are the same real call."""

    start_tolerance: Interval = timedelta(seconds=60)
    duration_tolerance_seconds: int = Field(default=5, ge=0)


class CallsyncConfig(_Strict):
    database: DatabaseConfig = DatabaseConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    matching: MatchingConfig = MatchingConfig()
    guard: GuardConfig = GuardConfig()
    connections: dict[str, ConnectionConfig] = Field(default_factory=dict)
    routes: list[RouteConfig] = Field(default_factory=list)
    source_file: str | None = Field(default=None, exclude=True)

    def every(self, connection: str) -> timedelta:
        return self.connections[connection].every or self.schedule.default_every

    def guard_of(self, route: RouteConfig) -> GuardConfig:
        """The guard for ``route``: the top-level one with the route's own keys over it."""
        if route.guard is None:
            return self.guard
        return self.guard.model_copy(update=route.guard.model_dump(exclude_unset=True))


def load_config(path: Path | str, env: Mapping[str, str] | None = None) -> CallsyncConfig:
    """Read, interpolate and validate the config file at ``path``; raise :class:`ConfigError`."""
    try:
        document = load(Path(path), env)
    except SourceError as error:
        raise ConfigError([error]) from None
    except SourceErrors as errors:
        raise ConfigError(errors.problems) from None
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([document.error((), "the config file must be a mapping")])
    try:
        config = CallsyncConfig.model_validate({**data, "source_file": document.file})
    except ValidationError as exc:
        raise ConfigError(_locate(document, exc, ())) from None
    problems = _check_references(document, config)
    for name, connection in config.connections.items():
        problems.extend(_attach_settings(document, name, connection))
    if problems:
        raise ConfigError(problems)
    return config


def _origin(document: LocatedDocument, path: Path_) -> str:
    where = f"{format_path(path)} in {document.file}"
    names = document.references.get(path, ())
    return f"${{{names[0]}}} ({where})" if len(names) == 1 else where


def _locate(document: LocatedDocument, exc: ValidationError, prefix: Path_) -> list[SourceError]:
    problems = []
    for item in exc.errors():
        path = (*prefix, *item["loc"])
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(document.error(path, message))
    return problems


def _check_references(document: LocatedDocument, config: CallsyncConfig) -> list[SourceError]:
    problems = []
    for name, connection in config.connections.items():
        if connection.kind not in connectors.known_kinds():
            message = str(connectors.UnknownKindError(connection.kind))
            problems.append(document.error(("connections", name, "kind"), message))
    for index, route in enumerate(config.routes):
        named: list[tuple[Path_, str]] = [(("from",), route.source)]
        named += [(("to",), target) for target in route.targets]
        named += [(("conflicts", "prefer", at), n) for at, n in enumerate(route.conflicts.prefer)]
        for key, target in named:
            if target not in config.connections:
                path: Path_ = ("routes", index, *key)
                problems.append(document.error(path, f"unknown connection {target!r}"))
    return problems


def _attach_settings(
    document: LocatedDocument, name: str, connection: ConnectionConfig
) -> list[SourceError]:
    if connection.kind not in connectors.known_kinds():
        return []  # already reported
    prefix: Path_ = ("connections", name)
    model = connectors.settings_model(connection.kind)
    try:
        connection._settings = model.model_validate(connection.vendor_keys)
    except ValidationError as exc:
        return _locate(document, exc, prefix)
    connection._origins = {key: _origin(document, (*prefix, key)) for key in connection.vendor_keys}
    if connection.mapping is not None:
        try:
            load_tables()[connection.kind].with_overrides(connection.mapping)
        except MappingError as exc:
            return [document.error((*prefix, "mapping", *exc.key), str(exc))]
    return []
