"""``callsync demo``: the whole engine against local emulators of the four tools, in a minute,
with no accounts. Registered in ``syncer/cli.py``."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from sqlalchemy.engine import Engine

import connectors
from connectors.emulation.fleet import Fleet, start_fleet
from connectors.emulation.world import World
from syncer import stopping
from syncer.config import CallsyncConfig, load_config
from syncer.demo import view
from syncer.demo.cycles import DemoRun, run_demo
from syncer.demo.scenario import Scenario, make_world, write_config
from syncer.report import build_report, print_report
from syncer.runner import connected
from syncer.store import database

DATABASE = "callsync.db"
EMULATORS = "emulators"


@click.command("demo")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated world.")
@click.option(
    "--calls",
    default=150,
    show_default=True,
    type=click.IntRange(20, 2000),
    help="Calls in the world (a tenth or so arrive while the demo syncs).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Leave the database, the emulators' state and a ready config in this (new or "
    "empty) directory. Default: a temporary directory, removed at the end.",
)
@click.option(
    "--serve", is_flag=True, help="Keep the emulators running after the report, until Ctrl-C."
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--quiet", is_flag=True, help="Print only the final line.")
def demo(seed: int, calls: int, keep: Path | None, serve: bool, as_json: bool, quiet: bool) -> None:
    """Sync four emulated tools on this machine (Amplemarket, Outreach, Close, Pipedrive):
    a backfill, then incremental cycles while new calls arrive, one is edited and one
    deleted; then show what moved where and why. Touches no account and no config of yours."""
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise click.BadParameter(f"{keep} is not empty", param_hint="--keep")
    began = time.monotonic()
    with _directory(keep) as directory:
        console = Console(width=160, quiet=as_json or quiet)
        world = make_world(seed, calls, datetime.now(UTC))
        fleet, config = _start(directory, world)
        engine = database.create_engine(config.database.url)
        try:
            database.upgrade(engine)
            run = _run(config, engine, Scenario(config, fleet, world))
            shown = view.shown_runs(run)
            summary = _summary(run, shown, engine, config, world, began, directory, keep)
            _print(console, shown, summary, engine, config, as_json=as_json, quiet=quiet)
            if serve and not run.interrupted:
                _serve(fleet, directory)
        finally:
            engine.dispose()
            fleet.stop()
    if summary["failures"]:
        for failure in summary["failures"]:
            click.echo(f"failed: {failure}", err=True)
        sys.exit(1)


@contextmanager
def _directory(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    directory = Path(tempfile.mkdtemp(prefix="callsync-demo-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _start(directory: Path, world: World) -> tuple[Fleet, CallsyncConfig]:
    fleet = start_fleet(connectors.known_kinds(), world, state_dir=directory / EMULATORS)
    try:
        path = write_config(directory, fleet.base_urls, f"sqlite:///{directory / DATABASE}")
        return fleet, load_config(path)
    except BaseException:
        fleet.stop()
        raise


def _run(config: CallsyncConfig, engine: Engine, scenario: Scenario) -> DemoRun:
    with stopping.on_signals() as stop, connected(config, engine) as live:
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        return run_demo(config, engine, live, scenario, until=until, stop=stop)


def _summary(
    run: DemoRun,
    shown: list[view.Shown],
    engine: Engine,
    config: CallsyncConfig,
    world: World,
    began: float,
    directory: Path,
    keep: Path | None,
) -> dict[str, Any]:
    runs = view.runs_of(shown)
    end = view.outcome(engine)
    return {
        "seed": world.seed,
        "world": {"calls": world.calls, "held_back": world.held_back, "start": world.start},
        "runs": runs,
        "outcome": end,
        "totals": view.totals(runs, end),
        "waiting": view.waiting(engine),
        "failures": run.failures(),
        "seconds": round(time.monotonic() - began, 1),
        "directory": str(directory) if keep is not None else None,
        "config": str(directory / "callsync.yaml") if keep is not None else None,
        "coverage": build_report(engine, config).to_dict(),
    }


def _print(
    console: Console, shown: list[view.Shown], summary: dict[str, Any], engine: Engine,
    config: CallsyncConfig, *, as_json: bool, quiet: bool,
) -> None:  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    view.print_runs(console, shown)
    view.print_waiting(console, summary["waiting"])
    if not quiet:
        _show_coverage(engine, config, console)
    if summary["config"]:
        console.print(f"kept: explore with `callsync status --config {summary['config']}`")
    click.echo(view.final_line(summary["totals"], summary["seconds"]))


def _show_coverage(engine: Engine, config: CallsyncConfig, console: Console) -> None:
    print_report(build_report(engine, config), console)


def _serve(fleet: Fleet, directory: Path) -> None:
    # The handlers first: whoever reads the URLs may press Ctrl-C at once.
    with stopping.on_signals() as stop:
        for kind, url in fleet.base_urls.items():
            click.echo(f"{kind:<12} {url}")
        click.echo(f"config       {directory / 'callsync.yaml'}")
        sys.stdout.flush()
        click.echo("serving the emulators; press Ctrl-C to stop", err=True)
        stop.wait()
