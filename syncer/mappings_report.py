"""What ``callsync mappings show`` prints: an account's own categories and the vendor's fixed
enums, each with the canonical value it maps to; anything unmapped is flagged."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table

from connectors.base import Connector
from syncer.mapping import VendorTable


@dataclass(frozen=True)
class Row:
    source: str  # "account" (dispositions, outcomes, purposes) or "enum" (the mapping table)
    kind: str
    vendor_value: str
    canonical: str
    note: str = ""


def account_rows(connector: Connector, table: VendorTable) -> list[Row]:
    rows = []
    for label in connector.account_labels():
        if label.kind == "purpose":
            rows.append(Row("account", label.kind, label.label, "-", "kept as the call's purpose"))
            continue
        outcome = table.outcome_for_disposition(label.label)
        detail = f" ({label.detail})" if label.detail else ""
        if outcome is None and label.kind != "disposition":
            # Custom outcomes (Close) refine nothing on read; writes name them in settings.
            rows.append(Row("account", label.kind, label.label, "-", detail.strip()))
        elif outcome is None:
            note = "UNMAPPED: add it under mapping.outcome_by_disposition" + detail
            rows.append(Row("account", label.kind, label.label, "-", note))
        else:
            rows.append(Row("account", label.kind, label.label, outcome.value, detail.strip()))
    return rows


def enum_rows(table: VendorTable) -> list[Row]:
    rows = []
    for name, dimension in table.dimensions.items():
        if isinstance(dimension.read, str):
            rows.append(Row("enum", name, "-", "-", f"not read: {dimension.read}"))
            continue
        for value, canonical in dimension.read.items():
            shown = canonical.value if canonical is not None else "(unknown)"
            rows.append(Row("enum", name, value, shown))
    return rows


def as_table(connection: str, rows: list[Row]) -> Table:
    table = Table(title=f"mappings of {connection}", title_justify="left")
    for column in ("source", "kind", "vendor value", "canonical", "note"):
        table.add_column(column)
    for row in rows:
        style = "bold red" if row.note.startswith("UNMAPPED") else None
        table.add_row(row.source, row.kind, row.vendor_value, row.canonical, row.note, style=style)
    return table
