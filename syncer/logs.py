"""Logging: structured key-value lines on stderr, with secrets redacted by key name.

Nothing in callsync should log a secret in the first place; the redaction is the safety net for
a value that slips into an event under a tell-tale key.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEY = re.compile(r"(?i)(token|secret|password|api_key|apikey|authorization|cookie)")


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        if _SECRET_KEY.search(key):
            event[key] = "REDACTED"
    return event


FORMATS = ("console", "json")
# Libraries whose INFO lines repeat what callsync logs itself (every HTTP request, every
# scheduler tick, every migration step): shown from WARNING up unless the level is DEBUG.
_CHATTY = ("httpx", "httpcore", "apscheduler", "alembic")


def configure(level: str = "INFO", fmt: str = "console") -> None:
    """``fmt``: ``console`` (key=value lines) or ``json`` (one object per line). Lines of the
    standard ``logging`` module (libraries) are rendered the same way, so a log shipper reads
    one format."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"])
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
