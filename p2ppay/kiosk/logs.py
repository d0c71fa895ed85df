"""Structured logs: one JSON object per line on stderr, for journald and log shippers.

Each line has ``ts`` (ISO 8601 UTC), ``level``, ``logger`` and ``msg``, plus every field a
caller passed with ``extra={...}`` (request id, state, error code, durations...).

Invariants: a line is always valid JSON (values that JSON cannot carry are written with
``str``); money is written in minor units with its currency, never as a float; no key
material or passphrase is ever passed to a logger.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["JsonFormatter", "configure_logging"]

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, sort_keys=False)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every logger's records (Bumble's and uvicorn's too) as JSON lines to stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Per-request access lines would drown the payment lines; errors still show.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Bumble's DEBUG is every HCI packet: never wanted in the kiosk's log.
    logging.getLogger("bumble").setLevel(max(logging.INFO, logging.getLevelName(level)))
