"""``callsync review list|resolve`` (the engine side is ``syncer/review_queue.py``
for listing, ``syncer/review_resolve.py`` for settling).

``syncer/cli.py`` registers the group built by :func:`group`; the ``--config`` option and the
exit codes are every command's (``syncer/cli_common.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from syncer import review_queue, review_resolve
from syncer.cli_common import EXIT_BAD_INPUT, config_option, handles_errors
from syncer.config import CallsyncConfig, load_config
from syncer.store import database

IDS_HELP = """Item ids: w:TARGET:CALL_UID (a write of a call into a target: an ambiguous identity,
an in-doubt write, or look-alike records it could be), t:TARGET:CALL_UID (a linked twin that
disagrees with its source call), r:N (a recorded item: a guard trip or a duplicate pair)."""


def group() -> click.Group:
    """The ``review`` command group."""

    @click.group("review", help=f"What needs a person, with the evidence. {IDS_HELP}")
    def review_group() -> None:
        pass

    @review_group.command("list")
    @config_option
    @click.option("--kind", type=click.Choice(review_queue.KINDS), help="Only items of this kind.")
    @click.option("--connection", "name", help="Only items of this connection (the target).")
    @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
    @handles_errors
    def list_command(config_path: Path, kind: str | None, name: str | None, as_json: bool) -> None:
        """Every item waiting for a person: id, kind, connection, why, the options it takes
        and its evidence."""
        loaded = load_config(config_path)
        engine = database.open_migrated(loaded.database.url)
        try:
            found = review_queue.items(
                engine,
                _kinds(loaded),
                review_queue.tolerances_of(loaded),
                kind=kind,
                connection=name,
            )
        finally:
            engine.dispose()
        _print(found, as_json)

    @review_group.command("resolve", help=f"Settle item ID with one of its options. {IDS_HELP}")
    @config_option
    @click.argument("item_id", metavar="ID")
    @click.option(
        "--choose",
        "option",
        required=True,
        help="The decision: one of the options `review list` shows for the item (for an "
        "ambiguous identity, a candidate's id).",
    )
    @click.option("--remote-id", help="The target's record id (for adopt).")
    @handles_errors
    def resolve_command(
        config_path: Path, item_id: str, option: str, remote_id: str | None
    ) -> None:
        loaded = load_config(config_path)
        engine = database.open_migrated(loaded.database.url)
        try:
            done = review_resolve.resolve(
                engine,
                item_id,
                option,
                kinds=_kinds(loaded),
                tolerances=review_queue.tolerances_of(loaded),
                remote_id=remote_id,
            )
        except review_queue.ReviewError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        finally:
            engine.dispose()
        click.echo(f"{item_id}: {done}")

    return review_group


def _kinds(loaded: CallsyncConfig) -> dict[str, str]:
    return {name: connection.kind for name, connection in loaded.connections.items()}


def _print(found: list[review_queue.Item], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([item.as_dict() for item in found], indent=2, default=str))
        return
    for item in found:
        click.echo(f"{item.id}  {item.kind}  {item.connection}")
        click.echo(f"    {item.why}")
        click.echo(f"    options: {' | '.join(item.options)}")
        click.echo(f"    evidence: {json.dumps(item.evidence, default=str)}")
    click.echo(f"{len(found)} item(s) waiting for review")
