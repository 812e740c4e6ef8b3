"""``callsync quarantine list|retry`` (the engine side is ``syncer/quarantine.py``).

``syncer/cli.py`` registers the group built by :func:`group`; the ``--config`` option and the
exit codes are every command's (``syncer/cli_common.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from syncer import quarantine
from syncer.cli_common import config_option, handles_errors, open_store
from syncer.config import CallsyncConfig, load_config
from syncer.store.quarantined import Filters, OpenRecord

connection_option = click.option(
    "--connection", "name", help="Only this connection's records. Default: every connection."
)
reason_option = click.option(
    "--reason", help="Only records whose reason contains this text (case ignored)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def group() -> click.Group:
    """The ``quarantine`` command group."""

    @click.group("quarantine")
    def quarantine_group() -> None:
        """Records the read path could not map, kept with their raw payload."""

    @quarantine_group.command("list")
    @config_option
    @connection_option
    @reason_option
    @json_option
    @handles_errors
    def list_command(
        config_path: Path, name: str | None, reason: str | None, as_json: bool
    ) -> None:
        """The unresolved records: connection, stream, record key, reason, attempts, first and
        last seen."""
        loaded = _config(config_path, name)
        engine = open_store(loaded)
        try:
            found = quarantine.open_records(engine, Filters(name, reason))
        finally:
            engine.dispose()
        _print_records(found, as_json)

    @quarantine_group.command("retry")
    @config_option
    @connection_option
    @reason_option
    @json_option
    @handles_errors
    def retry_command(
        config_path: Path, name: str | None, reason: str | None, as_json: bool
    ) -> None:
        """Map the stored payloads again with the current config and mapping tables, sending
        no request to any vendor; what maps now is stored for the next push."""
        loaded = _config(config_path, name)
        names = [name] if name else list(loaded.connections)
        engine = open_store(loaded)
        try:
            results = quarantine.retry_configured(loaded, engine, names, reason)
        finally:
            engine.dispose()
        _print_results(results, as_json)
        busy = [result for result in results if result.busy]
        for result in busy:
            click.echo(f"skipped {result.connection}: held by {result.busy}", err=True)
        if busy:
            sys.exit(1)

    return quarantine_group


def _config(config_path: Path, name: str | None) -> CallsyncConfig:
    loaded = load_config(config_path)
    if name is not None and name not in loaded.connections:
        raise click.BadParameter(f"unknown connection {name!r}", param_hint="--connection")
    return loaded


def _print_records(found: list[OpenRecord], as_json: bool) -> None:
    rows = [
        {
            "connection": record.connection,
            "stream": record.stream,
            "record_key": record.record_key,
            "reason": record.reason,
            "attempts": record.attempts,
            "first_seen_at": record.first_seen_at.isoformat(),
            "last_seen_at": record.last_seen_at.isoformat(),
        }
        for record in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['connection']} {row['stream']} {row['record_key']}: {row['attempts']} "
            f"attempt(s), first seen {row['first_seen_at']}, last seen {row['last_seen_at']}"
        )
        click.echo(f"    {row['reason']}")
    click.echo(f"{len(rows)} quarantined record(s)")


def _print_results(results: list[quarantine.RetryResult], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([result.as_dict() for result in results], indent=2))
        return
    for result in results:
        still = sum(result.still.values())
        click.echo(
            f"{result.connection}: retried {result.retried}, mapped {result.mapped}, "
            f"still quarantined {still}"
        )
        for why, count in result.still.most_common():
            click.echo(f"    {count}  {why}")
