"""The mapping tables: every vendor value reads, every canonical value writes or says why not."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pydantic import ValidationError

from syncer import resources
from syncer.mapping import (
    CANONICAL,
    REQUIRED,
    Canonical,
    DimensionOverride,
    MappingError,
    MappingOverrides,
    UnmappedValueError,
    UnsupportedReadError,
    UnsupportedWriteError,
    VendorTable,
    load_tables,
)
from syncer.model import CallMethod, Direction, Outcome, SequenceAction

SYSTEMS = {"amplemarket", "close", "outreach", "pipedrive"}

# Every vendor enum value the issue lists, and the canonical value it must read as. The keys are
# also the vendor's complete enum: the table's `values` must be exactly these.
EXPECTED_READS: dict[tuple[str, str], dict[str, Any]] = {
    ("close", "outcome"): {
        "answered": Outcome.CONNECTED,
        "no-answer": Outcome.NO_ANSWER,
        "vm-answer": Outcome.VOICEMAIL_NO_MESSAGE,
        "vm-left": Outcome.VOICEMAIL_LEFT,
        "busy": Outcome.BUSY,
        "blocked": Outcome.BLOCKED,
        "error": Outcome.FAILED,
        "abandoned": Outcome.ABANDONED,
    },
    ("close", "call_method"): {
        "regular": CallMethod.REGULAR,
        "power": CallMethod.POWER,
        "predictive": CallMethod.PREDICTIVE,
        "external": None,  # logged through the API: the dialer mode is not known
    },
    ("close", "direction"): {"inbound": Direction.INBOUND, "outbound": Direction.OUTBOUND},
    ("pipedrive", "outcome"): {
        "connected": Outcome.CONNECTED,
        "no_answer": Outcome.NO_ANSWER,
        "left_message": Outcome.MESSAGE_LEFT,
        "left_voicemail": Outcome.VOICEMAIL_LEFT,
        "wrong_number": Outcome.WRONG_NUMBER,
        "busy": Outcome.BUSY,
    },
    ("outreach", "outcome"): {"Answered": Outcome.CONNECTED, "Not Answered": Outcome.NO_ANSWER},
    ("outreach", "sequence_action"): {
        "Advance": SequenceAction.ADVANCE,
        "Finish": SequenceAction.FINISH,
        "Finish - No Reply": SequenceAction.FINISH_NO_REPLY,
        "Finish - Replied": SequenceAction.FINISH_REPLIED,
    },
    ("outreach", "direction"): {"inbound": Direction.INBOUND, "outbound": Direction.OUTBOUND},
    ("amplemarket", "outcome"): {
        "answered_human": Outcome.CONNECTED,
        "answered_machine": Outcome.VOICEMAIL,
        "not_answered": Outcome.NO_ANSWER,
    },
    ("amplemarket", "direction"): {"incoming": Direction.INBOUND, "outgoing": Direction.OUTBOUND},
    ("amplemarket", "sequence_action"): {
        "next_stage": SequenceAction.ADVANCE,
        "complete": SequenceAction.FINISH,
    },
}

# The product decisions users see when callsync writes; changing one must be deliberate.
EXPECTED_WRITES: dict[tuple[str, str], dict[Any, str]] = {
    ("pipedrive", "outcome"): {
        Outcome.VOICEMAIL: "left_voicemail",
        Outcome.VOICEMAIL_NO_MESSAGE: "no_answer",
        Outcome.MESSAGE_LEFT: "left_message",
        Outcome.BLOCKED: "no_answer",
        Outcome.FAILED: "no_answer",
        Outcome.ABANDONED: "no_answer",
        Outcome.UNKNOWN: "no_answer",
    },
    ("close", "outcome_status"): {
        Outcome.CONNECTED: "completed",
        Outcome.VOICEMAIL_LEFT: "no-answer",
        Outcome.BUSY: "busy",
        Outcome.BLOCKED: "failed",
        Outcome.FAILED: "failed",
        Outcome.ABANDONED: "cancel",
        Outcome.UNKNOWN: "no-answer",
    },
    ("outreach", "outcome"): {
        Outcome.CONNECTED: "Answered",
        Outcome.WRONG_NUMBER: "Answered",
        Outcome.VOICEMAIL_LEFT: "Not Answered",
        Outcome.ABANDONED: "Not Answered",
    },
    ("amplemarket", "outcome"): {
        Outcome.CONNECTED: "answered_human",
        Outcome.VOICEMAIL_LEFT: "answered_machine",
        Outcome.BUSY: "not_answered",
    },
    ("amplemarket", "sequence_action"): {
        SequenceAction.ADVANCE: "next_stage",
        SequenceAction.FINISH: "complete",
        SequenceAction.FINISH_NO_REPLY: "complete",
        SequenceAction.FINISH_REPLIED: "complete",
    },
}


@pytest.fixture(scope="module")
def tables() -> dict[str, VendorTable]:
    return load_tables()


def _members(dimension: str) -> list[Canonical]:
    return list(cast("Iterable[Canonical]", CANONICAL[dimension]))


def _all_dimensions() -> list[tuple[str, str]]:
    return [(system, name) for system in sorted(SYSTEMS) for name in CANONICAL]


def test_the_files_are_found_through_syncer_resources(tables: dict[str, VendorTable]) -> None:
    checkout = Path(resources.__file__).resolve().parent.parent
    assert resources.mappings_dir() == checkout / "mappings"
    assert set(tables) == SYSTEMS
    assert all(Path(t.source).parent == resources.mappings_dir() for t in tables.values())


def test_a_bundled_copy_wins_over_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = tmp_path / "_bundled" / "mappings"
    shutil.copytree(resources.mappings_dir(), bundled)
    monkeypatch.setattr(resources, "_PACKAGE", tmp_path)
    assert resources.mappings_dir() == bundled
    assert set(load_tables()) == SYSTEMS


@pytest.mark.parametrize(("system", "dimension"), sorted(EXPECTED_READS))
def test_every_listed_vendor_value_reads_as_a_canonical_value(
    tables: dict[str, VendorTable], system: str, dimension: str
) -> None:
    table, expected = tables[system], EXPECTED_READS[system, dimension]
    assert set(table.dimension(dimension).values) == set(expected)
    for vendor_value, canonical in expected.items():
        assert table.read(dimension, vendor_value) == canonical


@pytest.mark.parametrize(("system", "dimension"), _all_dimensions())
def test_every_canonical_value_has_a_target_or_a_reason(
    tables: dict[str, VendorTable], system: str, dimension: str
) -> None:
    table = tables[system]
    if dimension in REQUIRED:
        assert dimension in table.dimensions, "required dimensions are stated, never implied"
    if not table.supports_write(dimension):
        with pytest.raises(UnsupportedWriteError) as caught:
            table.write(dimension, _members(dimension)[0])
        assert len(caught.value.reason) > 10
        return
    values = table.dimension(dimension).values
    for member in _members(dimension):
        assert table.write(dimension, member) in values


@pytest.mark.parametrize(("system", "dimension"), _all_dimensions())
def test_declared_lossy_values_are_exactly_the_lossy_ones(
    tables: dict[str, VendorTable], system: str, dimension: str
) -> None:
    table = tables[system]
    if not table.supports_write(dimension):
        assert table.lossy(dimension) == {}
        return
    members = _members(dimension)
    targets = {member: table.write(dimension, member) for member in members}
    if table.supports_read(dimension):
        computed = {m for m in members if table.read(dimension, targets[m]) != m}
    else:  # write-only: lossy when another canonical value shares the target
        shared = Counter(targets.values())
        computed = {m for m in members if shared[targets[m]] > 1}
    declared = table.lossy(dimension)
    assert set(declared) == computed
    assert all(reason.strip() for reason in declared.values())


@pytest.mark.parametrize(("system", "dimension"), sorted(EXPECTED_WRITES))
def test_the_chosen_writes(tables: dict[str, VendorTable], system: str, dimension: str) -> None:
    for canonical, vendor_value in EXPECTED_WRITES[system, dimension].items():
        assert tables[system].write(dimension, canonical) == vendor_value


def test_the_documented_unsupported_directions(tables: dict[str, VendorTable]) -> None:
    assert not tables["close"].supports_write("outcome")  # disposition is read-only
    assert not tables["close"].supports_write("call_method")
    assert not tables["pipedrive"].supports_read("direction")  # Pipedrive has no direction
    assert not tables["outreach"].supports_write("call_method")
    assert not tables["amplemarket"].supports_write("direction")
    assert not tables["pipedrive"].supports_write("outcome_status")  # not defined: unsupported


def test_an_unknown_vendor_value_raises_unmapped(tables: dict[str, VendorTable]) -> None:
    with pytest.raises(UnmappedValueError) as caught:
        tables["close"].read("outcome", "hung-up")
    error = caught.value
    assert (error.vendor, error.dimension, error.value) == ("close", "outcome", "hung-up")
    assert isinstance(error, MappingError)
    assert isinstance(error, ValueError)


def test_misuse_is_a_mapping_error(tables: dict[str, VendorTable]) -> None:
    with pytest.raises(UnsupportedReadError, match="direction"):
        tables["pipedrive"].read("direction", "inbound")
    with pytest.raises(MappingError, match="not a"):
        tables["close"].write("direction", Outcome.CONNECTED)
    with pytest.raises(MappingError, match="unknown dimension"):
        tables["close"].read("disposition", "answered")


# --- the loader rejects bad files, naming file, dimension and key ---------------------------


def _mutated(tmp_path: Path, system: str, mutate: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load((resources.mappings_dir() / f"{system}.yaml").read_text())
    mutate(data)
    (tmp_path / f"{system}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path


def _dims(data: dict[str, Any]) -> dict[str, Any]:
    return data["dimensions"]  # type: ignore[no-any-return]


BAD_FILES = {
    "unknown dimension": (
        "close",
        lambda d: _dims(d).update(disposition={"unsupported": "x"}),
        ["dimensions.disposition", "unknown"],
    ),
    "missing required dimension": (
        "close",
        lambda d: _dims(d).pop("call_method"),
        ["dimensions.call_method", "missing"],
    ),
    "read target not canonical": (
        "close",
        lambda d: _dims(d)["outcome"]["read"].update(answered="picked_up"),
        ["dimensions.outcome.read.answered", "picked_up"],
    ),
    "read key not a vendor value": (
        "close",
        lambda d: _dims(d)["outcome"]["read"].update({"hung-up": "no_answer"}),
        ["dimensions.outcome.read.hung-up"],
    ),
    "read misses a vendor value": (
        "close",
        lambda d: _dims(d)["outcome"]["read"].pop("abandoned"),
        ["dimensions.outcome.read", "abandoned"],
    ),
    "write target not in values": (
        "pipedrive",
        lambda d: _dims(d)["outcome"]["write"].update(busy="engaged"),
        ["dimensions.outcome.write.busy", "engaged"],
    ),
    "write misses a canonical key": (
        "pipedrive",
        lambda d: _dims(d)["outcome"]["write"].pop("abandoned"),
        ["dimensions.outcome.write", "abandoned"],
    ),
    "write key not canonical": (
        "pipedrive",
        lambda d: _dims(d)["outcome"]["write"].update(hung_up="busy"),
        ["dimensions.outcome.write.hung_up"],
    ),
    "undeclared lossiness": (
        "pipedrive",
        lambda d: _dims(d)["outcome"]["lossy"].pop("voicemail"),
        ["dimensions.outcome.lossy", "not declared", "voicemail"],
    ),
    "undeclared lossiness, write-only": (
        "close",
        lambda d: _dims(d)["outcome_status"]["lossy"].pop("failed"),
        ["dimensions.outcome_status.lossy", "failed"],
    ),
    "declared lossy but exact": (
        "outreach",
        lambda d: _dims(d)["outcome"]["lossy"].update(connected="no"),
        ["dimensions.outcome.lossy", "round-trip exactly", "connected"],
    ),
    "stray key": (
        "outreach",
        lambda d: _dims(d)["direction"].update(comment="x"),
        ["dimensions.direction.comment", "Extra inputs"],
    ),
    "empty reason": (
        "outreach",
        lambda d: _dims(d).update(call_method={"unsupported": ""}),
        ["dimensions.call_method.unsupported"],
    ),
    "both directions unsupported": (
        "outreach",
        lambda d: _dims(d)["direction"].update(
            read={"unsupported": "x"}, write={"unsupported": "y"}
        ),
        ["dimensions.direction", "both directions"],
    ),
    "duplicate vendor value": (
        "outreach",
        lambda d: _dims(d)["direction"]["values"].append("inbound"),
        ["dimensions.direction.values", "inbound"],
    ),
    "system is not the file name": (
        "close",
        lambda d: d.update(system="closeio"),
        ["system", "closeio"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_the_loader_rejects_a_bad_file(tmp_path: Path, case: str) -> None:
    system, mutate, fragments = BAD_FILES[case]
    directory = _mutated(tmp_path, system, mutate)
    with pytest.raises(MappingError) as caught:
        load_tables(directory)
    message = str(caught.value)
    assert f"{system}.yaml" in message
    for fragment in fragments:
        assert fragment in message


def test_the_loader_rejects_duplicate_yaml_keys(tmp_path: Path) -> None:
    text = (resources.mappings_dir() / "outreach.yaml").read_text()
    text = text.replace(
        "    read: {inbound: inbound,", "    read: {inbound: outbound, inbound: inbound,"
    )
    (tmp_path / "outreach.yaml").write_text(text)
    with pytest.raises(MappingError, match=r"outreach\.yaml.*duplicate key"):
        load_tables(tmp_path)


def test_the_loader_rejects_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no mapping files"):
        load_tables(tmp_path)


# --- per-connection overrides -------------------------------------------------------------


def test_override_fields_are_the_canonical_dimensions() -> None:
    assert set(MappingOverrides.model_fields) == {*CANONICAL, "outcome_by_disposition"}


def test_overrides_merge_without_touching_the_shared_table(tables: dict[str, VendorTable]) -> None:
    config = {
        "outcome": {"write": {"voicemail_left": "Answered"}},
        "outcome_by_disposition": {
            "Left Voicemail": "voicemail_left",
            "Gatekeeper": "message_left",
        },
    }
    outreach = tables["outreach"]
    merged = outreach.with_overrides(MappingOverrides.model_validate(config))
    assert merged.write("outcome", Outcome.VOICEMAIL_LEFT) == "Answered"
    assert outreach.write("outcome", Outcome.VOICEMAIL_LEFT) == "Not Answered"
    assert merged.write("outcome", Outcome.BUSY) == "Not Answered"  # the rest is the vendor table
    assert merged.outcome_for_disposition("left  VOICEMAIL") == Outcome.VOICEMAIL_LEFT
    assert merged.outcome_for_disposition("Gatekeeper") == Outcome.MESSAGE_LEFT
    assert merged.outcome_for_disposition("Interested") is None
    assert merged.outcome_for_disposition(None) is None
    assert outreach.outcome_for_disposition("Gatekeeper") is None


def test_an_override_recomputes_lossiness(tables: dict[str, VendorTable]) -> None:
    override = MappingOverrides(outcome=DimensionOverride(read={"left_voicemail": "voicemail"}))
    merged = tables["pipedrive"].with_overrides(override)
    assert merged.read("outcome", "left_voicemail") == Outcome.VOICEMAIL
    lossy = merged.lossy("outcome")
    assert Outcome.VOICEMAIL not in lossy  # now round-trips
    assert "override" in lossy[Outcome.VOICEMAIL_LEFT]  # now reads back as voicemail
    assert lossy[Outcome.BLOCKED] == tables["pipedrive"].lossy("outcome")[Outcome.BLOCKED]


def test_an_override_adds_a_vendor_value_the_file_does_not_know(
    tables: dict[str, VendorTable],
) -> None:
    """A team's own Close disposition or Outreach outcome: read (and written) like the rest."""
    close = tables["close"].with_overrides(
        MappingOverrides(outcome=DimensionOverride(read={"teleported": "connected"}))
    )
    assert close.read("outcome", "teleported") == Outcome.CONNECTED
    assert "teleported" in close.dimension("outcome").values
    assert "teleported" not in tables["close"].dimension("outcome").values
    config = {"outcome": {"read": {"Bounced": "failed"}, "write": {"failed": "Bounced"}}}
    outreach = tables["outreach"].with_overrides(MappingOverrides.model_validate(config))
    assert outreach.read("outcome", "Bounced") == Outcome.FAILED
    assert outreach.write("outcome", Outcome.FAILED) == "Bounced"
    assert Outcome.FAILED not in outreach.lossy("outcome")  # it round-trips now


BAD_OVERRIDES = {
    "read target of a new vendor value not canonical": (
        "close",
        {"outcome": {"read": {"hung-up": "hung_up"}}},
        "outcome.read.hung-up",
    ),
    "write target neither known nor added": (
        "outreach",
        {"outcome": {"read": {"Bounced": "failed"}, "write": {"busy": "Engaged"}}},
        "outcome.write.busy",
    ),
    "read target not canonical": (
        "close",
        {"outcome": {"read": {"answered": "picked_up"}}},
        "outcome.read.answered",
    ),
    "write target not in values": (
        "pipedrive",
        {"outcome": {"write": {"busy": "engaged"}}},
        "outcome.write.busy",
    ),
    "write key not canonical": (
        "pipedrive",
        {"outcome": {"write": {"hung_up": "busy"}}},
        "outcome.write.hung_up",
    ),
    "write where writing is unsupported": (
        "close",
        {"outcome": {"write": {"connected": "answered"}}},
        "outcome.write",
    ),
    "a dimension the vendor lacks": (
        "pipedrive",
        {"outcome_status": {"write": {"connected": "completed"}}},
        "outcome_status.write",
    ),
    "labels that differ only by case": (
        "outreach",
        {"outcome_by_disposition": {"Busy": "busy", "busy": "no_answer"}},
        "outcome_by_disposition",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_OVERRIDES))
def test_a_bad_override_is_rejected(tables: dict[str, VendorTable], case: str) -> None:
    system, config, where = BAD_OVERRIDES[case]
    with pytest.raises(MappingError) as caught:
        tables[system].with_overrides(MappingOverrides.model_validate(config))
    assert system in str(caught.value)
    assert where in str(caught.value)


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"disposition": {"read": {}}}, "disposition"),
        ({"outcome": {"reed": {}}}, "outcome.reed"),
        ({"outcome_by_disposition": {"Talked": "talked"}}, "outcome_by_disposition.Talked"),
    ],
)
def test_the_override_model_rejects_bad_shapes(config: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MappingOverrides.model_validate(config)
    assert where in {".".join(map(str, e["loc"])) for e in caught.value.errors()}
