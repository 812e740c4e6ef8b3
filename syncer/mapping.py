"""Vendor value <-> canonical value cross-walks, loaded from ``mappings/<vendor>.yaml``.

Per dimension a file maps the vendor's complete enum onto a :mod:`syncer.model` enum (``read``)
and every canonical member onto a vendor value (``write``), or says why a direction is
unsupported. Lossiness is declared, not discovered: the loader recomputes which canonical values
do not survive a write and refuses a file whose ``lossy:`` section disagrees. Everything is
checked at start-up, so a bad file stops the engine before it reads a single record.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeAlias, overload

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from syncer.model import CallMethod, Direction, Outcome, SequenceAction
from syncer.resources import mappings_dir

Canonical: TypeAlias = Outcome | Direction | CallMethod | SequenceAction

# The closed set of dimensions and the canonical enum each one maps onto.
CANONICAL: Mapping[str, type[Canonical]] = MappingProxyType(
    {
        "outcome": Outcome,
        "outcome_status": Outcome,  # a second, write-only outcome field (Close's call `status`)
        "direction": Direction,
        "call_method": CallMethod,
        "sequence_action": SequenceAction,
    }
)
# Every vendor file must say something (a map or a reason) about these.
REQUIRED = ("outcome", "direction", "call_method", "sequence_action")


Key: TypeAlias = tuple[str, ...]


class MappingError(ValueError):
    """A mapping file, override or lookup is wrong; the message says where. ``key`` is the path
    of the offending entry below a connection's ``mapping:`` override (empty elsewhere), so the
    config can name that entry's own line."""

    def __init__(self, message: str, key: Key = ()) -> None:
        super().__init__(message)
        self.key = key


class UnmappedValueError(MappingError):
    """A vendor sent a value the table does not know: the read path quarantines the record."""

    def __init__(self, vendor: str, dimension: str, value: str) -> None:
        self.vendor, self.dimension, self.value = vendor, dimension, value
        super().__init__(f"{vendor} {dimension}: vendor value {value!r} is not in the mapping")


class UnsupportedError(MappingError):
    def __init__(self, vendor: str, dimension: str, reason: str) -> None:
        self.vendor, self.dimension, self.reason = vendor, dimension, reason
        super().__init__(reason)


class UnsupportedWriteError(UnsupportedError):
    """The vendor cannot receive this dimension; ``reason`` says why."""


class UnsupportedReadError(UnsupportedError):
    """The vendor does not expose this dimension; ``reason`` says why."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unsupported(_Frozen):
    unsupported: str = Field(min_length=1)


def _shape(value: Any) -> str:
    # Tell ``{unsupported: reason}`` from a map by its key, so errors come from one branch only.
    return "=unsupported" if isinstance(value, dict) and "unsupported" in value else "=map"


_Unsupported = Annotated[Unsupported, Tag("=unsupported")]
_ReadSpec = Annotated[
    _Unsupported | Annotated[dict[str, str | None], Tag("=map")], Discriminator(_shape)
]
_WriteSpec = Annotated[_Unsupported | Annotated[dict[str, str], Tag("=map")], Discriminator(_shape)]
_Reason = Annotated[str, Field(min_length=1)]


class DimensionSpec(_Frozen):
    field: str = Field(min_length=1)
    values: tuple[str, ...] = Field(min_length=1)
    read: _ReadSpec
    write: _WriteSpec
    lossy: dict[str, _Reason] = Field(default_factory=dict)


_DimensionEntry = Annotated[
    _Unsupported | Annotated[DimensionSpec, Tag("=map")], Discriminator(_shape)
]


class VendorFile(_Frozen):
    system: str = Field(min_length=1)
    dimensions: dict[str, _DimensionEntry]


class DimensionOverride(_Frozen):
    read: dict[str, str | None] = Field(default_factory=dict)
    write: dict[str, str] = Field(default_factory=dict)


class MappingOverrides(_Frozen):
    """A connection's ``mapping:`` key in the config: replaces entries of the vendor's table."""

    outcome: DimensionOverride | None = None
    outcome_status: DimensionOverride | None = None
    direction: DimensionOverride | None = None
    call_method: DimensionOverride | None = None
    sequence_action: DimensionOverride | None = None
    # Account-defined disposition labels refine the vendor's coarse outcome.
    outcome_by_disposition: dict[str, Outcome] = Field(default_factory=dict)

    def dimension_overrides(self) -> dict[str, DimensionOverride]:
        return {name: found for name in CANONICAL if (found := getattr(self, name)) is not None}


def _label_key(label: str) -> str:
    # Labels are typed by hand into the config; case and spacing must not decide a match.
    return " ".join(label.split()).casefold()


ReadMap: TypeAlias = Mapping[str, Canonical | None]
WriteMap: TypeAlias = Mapping[Canonical, str]


@dataclass(frozen=True)
class Dimension:
    """One validated dimension; ``read``/``write`` are a map or the reason they are unsupported."""

    enum: type[Canonical]
    field: str | None = None
    values: tuple[str, ...] = ()
    read: ReadMap | str = ""
    write: WriteMap | str = ""
    lossy: Mapping[Canonical, str] = dataclasses.field(default_factory=dict)

    def merged(self, where: str, key: Key, override: DimensionOverride) -> Dimension:
        """This dimension with a connection's override over it. A read entry for a vendor value
        the file does not list adds that value (a disposition or outcome the team created);
        a write entry may target it then. ``key`` locates the override in the config."""
        read, write, dim = self.read, self.write, self
        if override.read:
            if isinstance(read, str):
                at = (*key, "read")
                raise MappingError(f"{where}.read: reading is unsupported: {read}", at)
            added = tuple(value for value in override.read if value not in self.values)
            dim = replace(self, values=(*self.values, *added))
            read = {**read, **_read_map(f"{where}.read", dim, override.read, (*key, "read"))}
        if override.write:
            if isinstance(write, str):
                at = (*key, "write")
                raise MappingError(f"{where}.write: writing is unsupported: {write}", at)
            write = {**write, **_write_map(f"{where}.write", dim, override.write, (*key, "write"))}
        note = "lossy under this connection's mapping override"
        lossy = {c: self.lossy.get(c, note) for c in lossy_values(read, write)}
        frozen = {"read": _frozen(read), "write": _frozen(write), "lossy": _frozen(lossy)}
        return replace(dim, **frozen)


def _frozen(value: Mapping[Any, Any] | str) -> Any:
    return value if isinstance(value, str) else MappingProxyType(dict(value))


def lossy_values(read: ReadMap | str, write: WriteMap | str) -> set[Canonical]:
    """Canonical values a write cannot give back: read(write(c)) != c, or a shared target."""
    if isinstance(write, str):
        return set()
    if isinstance(read, str):
        shared = Counter(write.values())
        return {member for member, target in write.items() if shared[target] > 1}
    return {member for member, target in write.items() if read[target] != member}


def _member(where: str, enum: type[Canonical], raw: str, key: Key = ()) -> Canonical:
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(enum)
        raise MappingError(
            f"{where}: {raw!r} is not a canonical {enum.__name__} ({allowed})", key
        ) from None


def _read_map(
    where: str, dim: Dimension, raw: Mapping[str, str | None], override: Key | None = None
) -> ReadMap:
    """The read map of a file (``override`` None: every vendor value needs an entry) or of a
    connection's override at ``override`` (entries for some values)."""
    at = () if override is None else override
    for key in raw:
        if key not in dim.values:
            raise MappingError(f"{where}.{key}: {key!r} is not one of the vendor `values`")
    if override is None and (missing := [value for value in dim.values if value not in raw]):
        raise MappingError(f"{where}: no entry for vendor value(s) {missing}")
    return {
        k: None if t is None else _member(f"{where}.{k}", dim.enum, t, (*at, k))
        for k, t in raw.items()
    }


def _write_map(
    where: str, dim: Dimension, raw: Mapping[str, str], override: Key | None = None
) -> WriteMap:
    """Like :func:`_read_map`, the other way: canonical value -> vendor value."""
    at = () if override is None else override
    write = {_member(f"{where}.{k}", dim.enum, k, (*at, k)): target for k, target in raw.items()}
    for (key, target), member in zip(raw.items(), write, strict=True):
        if target not in dim.values:
            hint = " (a new vendor value needs a `read` entry of this override)" if at else ""
            message = f"{where}.{member}: {target!r} is not one of the vendor `values`{hint}"
            raise MappingError(message, (*at, key))
    if override is None and (missing := [str(m) for m in dim.enum if m not in write]):
        raise MappingError(f"{where}: no entry for canonical value(s) {missing}")
    return write


def _check_lossy(where: str, dim: Dimension, declared: Mapping[str, str]) -> dict[Canonical, str]:
    lossy = {_member(f"{where}.{key}", dim.enum, key): why for key, why in declared.items()}
    computed = lossy_values(dim.read, dim.write)
    if undeclared := sorted(map(str, computed - lossy.keys())):
        raise MappingError(f"{where}: lossy but not declared (give each a reason): {undeclared}")
    if exact := sorted(map(str, lossy.keys() - computed)):
        raise MappingError(f"{where}: declared lossy but they round-trip exactly: {exact}")
    return lossy


def _build(where: str, enum: type[Canonical], entry: DimensionSpec | Unsupported) -> Dimension:
    if isinstance(entry, Unsupported):
        return Dimension(enum, read=entry.unsupported, write=entry.unsupported)
    if duplicated := sorted(v for v, n in Counter(entry.values).items() if n > 1):
        raise MappingError(f"{where}.values: listed twice: {duplicated}")
    dim = Dimension(enum, entry.field, entry.values)
    if isinstance(entry.read, Unsupported):
        dim = replace(dim, read=entry.read.unsupported)
    else:
        dim = replace(dim, read=_read_map(f"{where}.read", dim, entry.read))
    if isinstance(entry.write, Unsupported):
        dim = replace(dim, write=entry.write.unsupported)
    else:
        dim = replace(dim, write=_write_map(f"{where}.write", dim, entry.write))
    if isinstance(dim.read, str) and isinstance(dim.write, str):
        raise MappingError(f"{where}: both directions unsupported; use `unsupported:` instead")
    lossy = _check_lossy(f"{where}.lossy", dim, entry.lossy)
    return replace(dim, read=_frozen(dim.read), write=_frozen(dim.write), lossy=_frozen(lossy))


@dataclass(frozen=True)
class VendorTable:
    """The validated cross-walk of one vendor system, optionally with a connection's overrides."""

    system: str
    source: str
    dimensions: Mapping[str, Dimension]
    dispositions: Mapping[str, Outcome] = dataclasses.field(default_factory=dict)

    def dimension(self, name: str) -> Dimension:
        if name not in CANONICAL:
            raise MappingError(f"{self.system}: unknown dimension {name!r}")
        if name in self.dimensions:
            return self.dimensions[name]
        reason = f"{self.system} has no {name} mapping"
        return Dimension(CANONICAL[name], read=reason, write=reason)

    @overload
    def read(
        self, dimension: Literal["outcome", "outcome_status"], vendor_value: str
    ) -> Outcome | None: ...
    @overload
    def read(self, dimension: Literal["direction"], vendor_value: str) -> Direction | None: ...
    @overload
    def read(self, dimension: Literal["call_method"], vendor_value: str) -> CallMethod | None: ...
    @overload
    def read(
        self, dimension: Literal["sequence_action"], vendor_value: str
    ) -> SequenceAction | None: ...
    @overload
    def read(self, dimension: str, vendor_value: str) -> Canonical | None: ...
    def read(self, dimension: str, vendor_value: str) -> Canonical | None:
        """The canonical value (None = "not set") of a vendor value, or UnmappedValueError."""
        dim = self.dimension(dimension)
        if isinstance(dim.read, str):
            raise UnsupportedReadError(self.system, dimension, dim.read)
        if vendor_value not in dim.read:
            raise UnmappedValueError(self.system, dimension, vendor_value)
        return dim.read[vendor_value]

    def write(self, dimension: str, canonical: Canonical) -> str:
        dim = self.dimension(dimension)
        if isinstance(dim.write, str):
            raise UnsupportedWriteError(self.system, dimension, dim.write)
        if not isinstance(canonical, dim.enum):
            raise MappingError(f"{self.system} {dimension}: {canonical!r} is not a {dim.enum}")
        return dim.write[canonical]

    def lossy(self, dimension: str) -> dict[Canonical, str]:
        return dict(self.dimension(dimension).lossy)

    def supports_read(self, dimension: str) -> bool:
        return not isinstance(self.dimension(dimension).read, str)

    def supports_write(self, dimension: str) -> bool:
        return not isinstance(self.dimension(dimension).write, str)

    def outcome_for_disposition(self, label: str | None) -> Outcome | None:
        """The outcome this connection assigns to a vendor disposition label, if any."""
        return None if label is None else self.dispositions.get(_label_key(label))

    def with_overrides(self, overrides: MappingOverrides) -> VendorTable:
        dimensions = dict(self.dimensions)
        for name, override in overrides.dimension_overrides().items():
            where = f"{self.system} mapping override: {name}"
            dimensions[name] = self.dimension(name).merged(where, (name,), override)
        labels = {_label_key(k): v for k, v in overrides.outcome_by_disposition.items()}
        if len(labels) != len(overrides.outcome_by_disposition):
            given = sorted(overrides.outcome_by_disposition)
            message = f"{self.system} outcome_by_disposition: {given} repeat a label"
            raise MappingError(message, ("outcome_by_disposition",))
        return replace(
            self,
            dimensions=MappingProxyType(dimensions),
            dispositions=MappingProxyType({**self.dispositions, **labels}),
        )


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys (plain YAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = Counter(str(self.construct_object(key, deep=deep)) for key, _ in node.value)
        if duplicated := [key for key, count in keys.items() if count > 1]:
            raise yaml.MarkedYAMLError("duplicate key", node.start_mark, str(duplicated), None)
        return super().construct_mapping(node, deep=deep)


def _describe(error: ValidationError) -> str:
    tags = ("=map", "=unsupported")  # discriminator tags: noise in a location
    return "; ".join(
        ".".join(str(part) for part in e["loc"] if part not in tags) + f": {e['msg']}"
        for e in error.errors()
    )


def _parse(path: Path) -> VendorFile:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
        return VendorFile.model_validate(data)
    except yaml.YAMLError as error:
        raise MappingError(f"{path}: not valid YAML: {error}") from None
    except ValidationError as error:
        raise MappingError(f"{path}: {_describe(error)}") from None


def load_table(path: Path) -> VendorTable:
    """Load and validate one ``mappings/<system>.yaml``; every failure names file and key."""
    parsed = _parse(path)
    if parsed.system != path.stem:
        raise MappingError(f"{path}: system: {parsed.system!r} must equal the file name")
    for name in parsed.dimensions:
        if name not in CANONICAL:
            raise MappingError(f"{path}: dimensions.{name}: unknown; use one of {list(CANONICAL)}")
    for name in REQUIRED:
        if name not in parsed.dimensions:
            raise MappingError(f"{path}: dimensions.{name}: missing (a map or `unsupported: why`)")
    dimensions = {
        name: _build(f"{path}: dimensions.{name}", CANONICAL[name], entry)
        for name, entry in parsed.dimensions.items()
    }
    return VendorTable(parsed.system, str(path), MappingProxyType(dimensions))


def load_tables(directory: Path | None = None) -> dict[str, VendorTable]:
    """Every vendor table in ``directory`` (default: the bundled ``mappings/``), by system."""
    directory = mappings_dir() if directory is None else directory
    tables = {table.system: table for table in map(load_table, sorted(directory.glob("*.yaml")))}
    if not tables:
        raise MappingError(f"{directory}: no mapping files (*.yaml)")
    return tables
