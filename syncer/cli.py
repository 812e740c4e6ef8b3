"""The ``callsync`` command line. Thin: it parses, calls the engine, and maps failures to exit
codes (0 ok, 2 bad input or config, 1 runtime failure). The config is validated completely
before any command touches the database."""

from __future__ import annotations

import json
import signal
import sys
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
from rich.console import Console

import connectors
from connectors.emulation.fleet import start_fleet
from connectors.emulation.world import World
from syncer import backfill_cli, daemon, logs, mappings_report, review_cli, settle, sync_cli
from syncer import status as status_report
from syncer.backfill import BadRangeError
from syncer.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_RUNTIME,
    config_option,
    fail,
    handles_errors,
    open_store,
)
from syncer.config import CallsyncConfig, load_config
from syncer.connections import build_connector
from syncer.demo.cli import demo as demo_command
from syncer.quarantine_cli import group as quarantine_commands
from syncer.report.cli import report as report_command
from syncer.store import database
from syncer.store.singleton import DaemonAlreadyRunningError
from syncer.sync_cli import force_option, json_option, quiet_option
from syncer.views import output

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _version() -> str:
    try:
        return version("callsync")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="callsync")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="How much to log (to stderr). Default: WARNING, and INFO for `callsync run`.",
)
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS),
    default="console",
    show_default=True,
    help="console: key=value lines; json: one JSON object per line (for log shippers).",
)
@click.pass_context
def main(ctx: click.Context, log_level: str | None, log_format: str) -> None:
    """callsync keeps phone-call logs consistent across Amplemarket, Outreach, Close and
    Pipedrive: read every call, map it to one canonical form, write it exactly once wherever
    a route says it belongs."""
    daemon = ctx.invoked_subcommand == "run"
    logs.configure((log_level or ("INFO" if daemon else "WARNING")).upper(), log_format)


main.add_command(demo_command)
main.add_command(report_command)


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@config_option
@handles_errors
def config_check(config_path: Path) -> None:
    """Validate the config file (and the mappings it overrides) without touching anything."""
    loaded = load_config(config_path)
    click.echo(
        f"{config_path}: ok ({len(loaded.connections)} connections, {len(loaded.routes)} routes)"
    )


@main.group()
def mappings() -> None:
    """Inspect how vendor values map to canonical ones."""


@mappings.command("show")
@config_option
@click.option("--connection", "name", required=True, help="The connection to inspect.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@handles_errors
def mappings_show(config_path: Path, name: str, as_json: bool) -> None:
    """List the account's dispositions/outcomes/purposes as the vendor returns them, the fixed
    enums of the mapping table, and the canonical value of each; flag anything unmapped."""
    loaded = load_config(config_path)
    if name not in loaded.connections:
        raise click.BadParameter(f"unknown connection {name!r}", param_hint="--connection")
    engine = open_store(loaded)
    try:
        connector = build_connector(loaded, name, engine)
        try:
            table = connector.context.table
            rows = mappings_report.account_rows(connector, table)
            rows += mappings_report.enum_rows(table)
        finally:
            connector.close()
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    Console(width=140).print(mappings_report.as_table(name, rows))


@main.group()
def db() -> None:
    """Manage callsync's database."""


@db.command("upgrade")
@config_option
@handles_errors
def db_upgrade(config_path: Path) -> None:
    """Create or migrate the database schema to the newest version."""
    loaded = load_config(config_path)
    engine = database.create_engine(loaded.database.url)
    try:
        revision = database.upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"database at revision {revision}")


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@handles_errors
def status(config_path: Path, as_json: bool) -> None:
    """Per connection: cursors, the last run, and quarantined records."""
    loaded = load_config(config_path)
    engine = open_store(loaded)
    try:
        report = status_report.collect(engine, loaded)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    console = Console(width=160)
    console.print(status_report.as_table(report))
    for extra in (
        status_report.coverage_table(report),
        status_report.waiting_table(report),
        status_report.duplicates_table(report),
        status_report.review_table(report),
        status_report.daemon_table(report),
    ):
        if extra is not None:
            console.print(extra)


@main.command()
@config_option
@click.option(
    "--connection",
    "names",
    multiple=True,
    help="Pull only this connection (repeatable). Default: every connection.",
)
@quiet_option
@json_option
@handles_errors
def pull(config_path: Path, names: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Read every call changed since the last pull into the database, once, and exit."""
    _sync(config_path, names, output.mode_of(quiet, as_json), push=False)


dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="Read and plan, but write nothing to any target: print the plan.",
)


@main.command()
@config_option
@dry_run_option
@force_option
@quiet_option
@json_option
@handles_errors
def sync(config_path: Path, dry_run: bool, force: bool, quiet: bool, as_json: bool) -> None:
    """One full pass: pull every connection, then write every route's calls, and exit."""
    _sync(config_path, (), output.mode_of(quiet, as_json), push=True, dry_run=dry_run, force=force)


@main.command()
@config_option
@click.option("--since", required=True, help="First day (2026-01-31) or instant to load, UTC.")
@click.option("--until", help="Load up to (not including) this day or instant. Default: now.")
@click.option("--window", "window_text", default="7d", show_default=True, help="Window size.")
@click.option("--connection", "names", multiple=True, help="Load only this one (repeatable).")
@click.option("--route", "route_from", help="Write only the routes from this connection.")
@dry_run_option
@force_option
@quiet_option
@json_option
@handles_errors
def backfill(config_path: Path, since: str, until: str | None, window_text: str,
             names: tuple[str, ...], route_from: str | None, dry_run: bool, force: bool,
             quiet: bool, as_json: bool) -> None:  # fmt: skip
    """Load the calls of a past period, oldest window first, resumably, then write them."""
    try:
        request = backfill_cli.request(
            since, until, window_text, names, route_from, dry_run, force=force
        )
    except BadRangeError as error:
        fail(f"error: {error}", EXIT_BAD_INPUT)
    loaded = load_config(config_path)
    _known(loaded, (*names, *filter(None, [route_from])))
    if not backfill_cli.run(loaded, request, output.mode_of(quiet, as_json)):
        sys.exit(EXIT_RUNTIME)


def _known(loaded: CallsyncConfig, names: tuple[str, ...]) -> None:
    unknown = [name for name in names if name not in loaded.connections]
    if unknown:
        raise click.BadParameter(
            f"unknown connection(s): {', '.join(unknown)}", param_hint="--connection"
        )


def _sync(config_path: Path, names: tuple[str, ...], mode: output.Mode, *, push: bool,
          dry_run: bool = False, force: bool = False) -> None:  # fmt: skip
    loaded = load_config(config_path)
    _known(loaded, names)
    if not sync_cli.run(loaded, names, mode, push=push, dry_run=dry_run, force=force):
        sys.exit(EXIT_RUNTIME)


@main.command("run")
@config_option
@handles_errors
def run_daemon(config_path: Path) -> None:
    """Run as a daemon: pull each connection on its schedule and push its routes, until
    SIGTERM or Ctrl-C (see `schedule` in the config for intervals, grace and /metrics)."""
    loaded = load_config(config_path)
    engine = open_store(loaded)
    try:
        code = daemon.serve(loaded, engine)
    except DaemonAlreadyRunningError as error:
        fail(f"error: {error}", EXIT_RUNTIME)
    finally:
        engine.dispose()
    sys.exit(code)


@main.group()
def writes() -> None:
    """Writes that did not land, and settling them by hand (in doubt, needs review, parked)."""


def _engine_for(config_path: Path) -> Any:
    return open_store(load_config(config_path))


@writes.command("list")
@config_option
@click.option("--target", help="Only writes into this connection.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(settle.OPEN_STATES),
    help="Only rows in this state (repeatable). Default: every state that did not land.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@handles_errors
def writes_list(
    config_path: Path, target: str | None, states: tuple[str, ...], as_json: bool
) -> None:
    """List writes with their reason, attempts, next attempt and evidence."""
    engine = _engine_for(config_path)
    try:
        rows = settle.open_writes(engine, target, states)
    finally:
        engine.dispose()
    found = [
        {
            "call_uid": row.call_uid,
            "target": row.target_connection,
            "state": row.state,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at,
            "reason": row.reason,
            "evidence": row.evidence,
        }
        for row in rows
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
        return
    for item in found:
        click.echo(
            f"{item['target']}  {item['call_uid']}  {item['state']}  "
            f"attempts {item['attempts']}  {item['reason'] or ''}"
        )
        if item["evidence"]:
            click.echo(f"    evidence: {json.dumps(item['evidence'], default=str)}")
    if not found:
        click.echo("no writes waiting")


def _settle(config_path: Path, decision: settle.Decision) -> None:
    engine = _engine_for(config_path)
    try:
        outcome = settle.apply(engine, decision)
    except settle.SettleError as error:
        fail(f"error: {error}", EXIT_BAD_INPUT)
    finally:
        engine.dispose()
    click.echo(f"{decision.target} {decision.call_uid}: {outcome}")


target_option = click.option("--target", required=True, help="The connection written into.")


@writes.command("adopt")
@config_option
@target_option
@click.argument("call_uid")
@click.argument("remote_id")
@handles_errors
def writes_adopt(config_path: Path, target: str, call_uid: str, remote_id: str) -> None:
    """The target holds CALL_UID as REMOTE_ID (found by hand): link it, write nothing."""
    _settle(config_path, settle.Decision(call_uid, target, "adopt", remote_id))


@writes.command("recreate")
@config_option
@target_option
@click.argument("call_uid")
@handles_errors
def writes_recreate(config_path: Path, target: str, call_uid: str) -> None:
    """CALL_UID is certainly not in the target: the next push creates it."""
    _settle(config_path, settle.Decision(call_uid, target, "recreate"))


@writes.command("skip")
@config_option
@target_option
@click.argument("call_uid")
@handles_errors
def writes_skip(config_path: Path, target: str, call_uid: str) -> None:
    """Never write CALL_UID into the target."""
    _settle(config_path, settle.Decision(call_uid, target, "skip"))


@main.command()
@click.option("--calls", default=500, show_default=True, help="Calls to generate in the world.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated world.")
@click.option(
    "--base-port",
    default=8711,
    show_default=True,
    help="First port; the kinds get consecutive ports in alphabetical order (0: any free ports).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep emulator state in SQLite files here, so it survives restarts.",
)
@handles_errors
def emulators(calls: int, seed: int, base_port: int, state_dir: Path | None) -> None:
    """Serve local emulators of every vendor API on 127.0.0.1 until interrupted."""
    kinds = connectors.known_kinds()
    world = World(seed=seed, calls=calls)
    ports = [base_port + index if base_port else 0 for index in range(len(kinds))]
    fleet = start_fleet(kinds, world, ports=ports, state_dir=state_dir)
    for kind, url in fleet.base_urls.items():
        click.echo(f"{kind:<12} {url}")
    sys.stdout.flush()
    click.echo("serving; press Ctrl-C to stop", err=True)
    try:
        _wait_for_signal()
    finally:
        fleet.stop()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


main.add_command(quarantine_commands())
main.add_command(review_cli.group())


def run(argv: list[str] | None = None) -> Any:
    """Entry point for tests: run the CLI without exiting the interpreter."""
    return main.main(args=argv, prog_name="callsync", standalone_mode=False)
