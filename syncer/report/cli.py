"""``callsync report``: the click command (registered in ``syncer/cli.py``).

It imports the shared command-line helpers of ``syncer.cli`` when it runs, not at import, as
``syncer.cli`` imports this module to register the command.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from syncer.backfill import BadRangeError, parse_instant
from syncer.report.html import write_html
from syncer.report.query import build_report
from syncer.report.terminal import print_report

EXIT_BAD_INPUT = 2


def _range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """The dates as ``callsync backfill`` reads them; raises :class:`BadRangeError`."""
    start = None if since is None else parse_instant(since, "--since")
    end = None if until is None else parse_instant(until, "--until")
    if start is not None and end is not None and end <= start:
        raise BadRangeError(f"until ({end.isoformat()}) must be after since ({start.isoformat()})")
    return start, end


@click.command("report")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("callsync.yaml"),
    envvar="CALLSYNC_CONFIG",
    show_default=True,
    show_envvar=True,
    help="The YAML config file.",
)
@click.option("--since", help="Calls that happened from this day (2026-01-31) or instant, UTC.")
@click.option("--until", help="... up to (not including) this day or instant. Default: now.")
@click.option("--route", "route_from", help="Only the routes from this connection.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as one self-contained HTML page with charts.",
)
def report(
    config_path: Path,
    since: str | None,
    until: str | None,
    route_from: str | None,
    as_json: bool,
    html_path: Path | None,
) -> None:
    """Which calls are missing in which tool, and why: per route and target, per tool and rep,
    and how fresh each connection is. Reads only callsync's database."""
    from syncer.cli import handles_errors  # here, not at import: see the module docstring

    handles_errors(_report)(config_path, since, until, route_from, as_json, html_path)


def _report(
    config_path: Path,
    since: str | None,
    until: str | None,
    route_from: str | None,
    as_json: bool,
    html_path: Path | None,
) -> None:
    from syncer.cli import _load, _open

    try:
        start, end = _range(since, until)
    except BadRangeError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    loaded = _load(config_path)
    if route_from is not None and route_from not in loaded.connections:
        raise click.BadParameter(f"unknown connection: {route_from}", param_hint="--route")
    engine = _open(loaded)
    try:
        built = build_report(engine, loaded, since=start, until=end, route_from=route_from)
    finally:
        engine.dispose()
    if html_path is not None:
        write_html(built, html_path)
    if as_json:
        click.echo(json.dumps(built.to_dict(), indent=2))
        return
    print_report(built, Console(width=160))
    if html_path is not None:
        click.echo(f"wrote {html_path}")
