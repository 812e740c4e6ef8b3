"""The body of ``callsync pull`` and ``callsync sync`` (kept out of ``cli.py``): one pass with
a progress display, stopped cleanly on SIGINT/SIGTERM, then its summary."""

from __future__ import annotations

import click

from syncer import stopping
from syncer.config import CallsyncConfig
from syncer.plan import SyncPlan
from syncer.runner import connected, sync_once
from syncer.store import database
from syncer.views import output, summary
from syncer.views.progress import ProgressView, shown_for

quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="Print only errors and a one-line verdict."
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout."
)
force_option = click.option(
    "--force",
    is_flag=True,
    help="Go past the mass-change guard (guard: in the config) for this run.",
)


def run(
    config: CallsyncConfig,
    names: tuple[str, ...],
    mode: output.Mode,
    *,
    push: bool,
    dry_run: bool = False,
    force: bool = False,
) -> bool:
    """One pass (``push=False``: pulls only); True if everything ran through."""
    plan = SyncPlan() if dry_run else None
    engine = database.open_migrated(config.database.url)
    try:
        with (
            stopping.on_signals(),
            connected(config, engine) as live,
            ProgressView(shown_for(mode is output.Mode.QUIET)) as view,
        ):
            report = sync_once(
                config,
                engine,
                live,
                pull_names=list(names) or None,
                push=push,
                plan=plan,
                on_page=view.pull_page,
                force=force,
            )
    finally:
        engine.dispose()
    ended = summary.of_sync("sync" if push else "pull", report, plan)
    if report.failed and ended.ok:  # the exit code and the verdict must agree
        ended.failures.append("failed")
    output.emit(ended, mode)
    return not report.failed
