"""``callsync report``: the click command (registered in ``syncer/cli.py``).

The ``--config`` option and the exit codes are every command's (``syncer/cli_common.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from syncer.backfill import BadRangeError, parse_instant
from syncer.cli_common import EXIT_BAD_INPUT, config_option, handles_errors, open_store
from syncer.config import load_config
from syncer.report.html import write_html
from syncer.report.query import build_report
from syncer.report.terminal import print_report


def _range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """The dates as ``callsync backfill`` reads them; raises :class:`BadRangeError`."""
    start = None if since is None else parse_instant(since, "--since")
    end = None if until is None else parse_instant(until, "--until")
    if start is not None and end is not None and end <= start:
        raise BadRangeError(f"until ({end.isoformat()}) must be after since ({start.isoformat()})")
    return start, end


@click.command("report")
@config_option
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
@handles_errors
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
    try:
        start, end = _range(since, until)
    except BadRangeError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    loaded = load_config(config_path)
    if route_from is not None and route_from not in loaded.connections:
        raise click.BadParameter(f"unknown connection: {route_from}", param_hint="--route")
    engine = open_store(loaded)
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
