"""What every ``callsync`` command shares: the ``--config`` option, opening the store, and one
mapping of failures to exit codes (0 ok, 1 runtime failure, 2 bad input or config).

Command modules (``syncer/cli.py`` and the ``*_cli.py`` beside it) import it; it imports none of
them, so a command lives in its own module without an import cycle.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import NoReturn, ParamSpec, TypeVar

import click
from sqlalchemy.engine import Engine

from syncer.config import CallsyncConfig, ConfigError
from syncer.errors import DatabaseError, DatabaseUrlError
from syncer.store import database

EXIT_OK, EXIT_RUNTIME, EXIT_BAD_INPUT = 0, 1, 2
P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("callsync.yaml"),
    envvar="CALLSYNC_CONFIG",
    show_default=True,
    show_envvar=True,
    help="The YAML config file.",
)


def fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn config errors into exit 2 and unexpected failures into exit 1, one clear message."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            fail(f"error: invalid config\n{error}", EXIT_BAD_INPUT)
        except DatabaseUrlError as error:
            fail(f"error: invalid config: {error}", EXIT_BAD_INPUT)
        except DatabaseError as error:
            fail(f"error: {error}", EXIT_RUNTIME)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as error:  # noqa: BLE001 - the top of the program reports everything
            fail(f"error: {type(error).__name__}: {error}", EXIT_RUNTIME)

    return wrapper


def open_store(loaded: CallsyncConfig) -> Engine:
    """The config's store, migrated, with runs of dead processes closed."""
    return database.open_migrated(loaded.database.url)
