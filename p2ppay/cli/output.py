"""What a command prints: one JSON document with ``--json``, readable lines without.

Invariants:
- With ``--json``, stdout carries exactly one JSON document and nothing else; progress and
  warnings go to stderr, so a script can always ``json.loads`` stdout.
- Errors are printed as ``{"error": CODE_NAME, "code": N, "message": ...}`` (JSON) or
  ``error: CODE_NAME: message`` (text), and map to a stable exit code (:class:`Exit`).
- Terminal niceties (rich: a live status line, tables, colour) appear only when the stream
  is a terminal; colour also stays off with ``NO_COLOR``. Piped output is plain lines, so
  what a script or a log reads never holds control characters.
- The live status line says what is happening and, when the step is bounded
  (:meth:`Output.countdown`), the time left, else the time elapsed; it is redrawn from the
  injected clock at every refresh, so the count goes down while nothing else happens.
  :func:`status_line` is the whole rendering, a pure function of its inputs.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import IntEnum, unique
from typing import Any, TextIO

from p2ppay.cli.humane import span

__all__ = ["Exit", "Output", "exit_for_app_error", "exit_for_protocol_error", "status_line"]


@unique
class Exit(IntEnum):
    """Process exit codes of every command."""

    OK = 0
    """The command did what was asked (a payment: it completed)."""
    FAILED = 1
    """The payment or check failed for a typed reason (printed as its code name)."""
    USAGE = 2
    """The command line was wrong."""
    ERROR = 3
    """A local error: wallet, store, adapter, file."""
    INTERRUPTED = 130
    """Stopped by SIGINT/SIGTERM."""


# What the README promises: 1 when a payment failed or a document is invalid, 2 when the
# command line was wrong, 3 for a local error. Codes not named here are local errors.
_FAILED_APP = frozenset(
    {
        "NO_PAYER_FOUND",
        "PAYER_AMBIGUOUS",
        "LINK_LOST",
        "ALLOWANCE_INVALID",
        "ALLOWANCE_NOT_MINE",
        "NOT_COMPLETE",
        "INVOICE_EXPIRED",
        "DEVICE_NOT_FOUND",
        "CONFORMANCE_FAILED",
        "PAYMENT_REFUSED",
    }
)
_USAGE_APP = frozenset({"BAD_KEY", "BAD_NAME", "AMBIGUOUS_ID", "BAD_APPROVAL_LIMITS"})
_USAGE_PROTOCOL = frozenset(
    {"MONEY_BAD_DECIMAL", "MONEY_NOT_POSITIVE", "MONEY_OVER_MAXIMUM", "MONEY_UNKNOWN_CURRENCY"}
)


def exit_for_app_error(name: str) -> Exit:
    """The exit status of an application error, by its code name."""
    if name in _FAILED_APP:
        return Exit.FAILED
    if name in _USAGE_APP:
        return Exit.USAGE
    return Exit.ERROR


def exit_for_protocol_error(name: str, *, local: bool) -> Exit:
    """A value the user typed (an amount, a currency) is usage; a document that does not
    verify is a failure; our own misuse is a local error."""
    if local and name in _USAGE_PROTOCOL:
        return Exit.USAGE
    return Exit.ERROR if local else Exit.FAILED


def status_line(message: str, *, elapsed: float, left: float | None) -> str:
    """The live status line: ``waiting for the payer's approval · 12 s left`` for a bounded
    step (whole seconds, rounded up, never below 0), else ``… · 5 s elapsed``."""
    if left is not None:
        return f"{message} · {span(math.ceil(max(0.0, left)))} left"
    return f"{message} · {span(int(max(0.0, elapsed)))} elapsed"


class _LiveText:
    """The status line's renderable: rich re-renders it at each refresh, so the time shown
    follows the clock between two progress messages."""

    def __init__(self, render: Callable[[], str]) -> None:
        self._render = render

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text(self._render())


class Output:
    """Printer for one command run. ``clock`` (monotonic seconds) times the status line."""

    def __init__(
        self,
        *,
        json_mode: bool,
        out: TextIO | None = None,
        err: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.json_mode = json_mode
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._clock = clock
        self._status: Any = None
        self._console: Any = None
        self._status_since = 0.0
        self._status_text = ""
        self._deadline: float | None = None

    def table(
        self,
        data: Any,
        *,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        lines: Iterable[str],
    ) -> None:
        """A result that is a table: JSON with ``--json``; a drawn table on a terminal;
        otherwise ``lines`` (one row each, for pipes and logs)."""
        if self.json_mode or not rows or not self._out.isatty():
            self.result(data, lines)
            return
        from rich.console import Console
        from rich.table import Table

        drawn = Table(*columns)
        for row in rows:
            drawn.add_row(*row)
        Console(file=self._out).print(drawn)

    @contextlib.contextmanager
    def live_status(self) -> Iterator[None]:
        """While the block runs, ``progress`` redraws one status line (message and seconds
        elapsed) on a terminal's stderr instead of printing a line per step."""
        if not self._err.isatty():
            yield
            return
        from rich.console import Console

        console = Console(file=self._err)
        self._status_since = self._clock()
        self._status_text, self._deadline = "starting", None
        with console.status(_LiveText(self.status_now)) as status:
            self._status = status
            self._console = console
            try:
                yield
            finally:
                self._status = None
                self._console = None
        if self._status_text:
            self._err.write(self._status_text + "\n")

    def result(self, data: Any, lines: Iterable[str] = ()) -> None:
        """The command's result: ``data`` as JSON, or ``lines`` as text."""
        if self.json_mode:
            self._out.write(json.dumps(data, sort_keys=True) + "\n")
        else:
            for line in lines:
                self._out.write(line + "\n")
        self._out.flush()

    def progress(self, message: str) -> None:
        """A step of long work (scanning, waiting): on stderr, never in the JSON. In a live
        status line it replaces the current step (unbounded until :meth:`countdown`)."""
        self._deadline = None
        self._status_since = self._clock()
        if self._status is not None:
            self._status_text = message
            self._status.update(_LiveText(self.status_now))
            return
        self._err.write(message + "\n")
        self._err.flush()

    def countdown(self, seconds: float | None) -> None:
        """The step just announced by :meth:`progress` ends within ``seconds`` (None: no
        bound): the live status line shows the time left instead of the time elapsed."""
        self._deadline = None if seconds is None else self._clock() + seconds

    def status_now(self) -> str:
        """The status line as it reads at this instant of the clock (elapsed: in this step)."""
        now = self._clock()
        left = None if self._deadline is None else self._deadline - now
        return status_line(self._status_text, elapsed=now - self._status_since, left=left)

    def notice(self, message: str) -> None:
        """A line that must stay on screen (the SAS to compare): on stderr, above any live
        status line, never in the JSON."""
        if self._console is not None:
            self._console.print(message, highlight=False)
            return
        self._err.write(message + "\n")
        self._err.flush()

    def error(self, name: str, message: str, *, code: int | None = None, **extra: Any) -> None:
        """A typed failure, printed as its stable code name."""
        if self.json_mode:
            payload: dict[str, Any] = {"error": name, "message": message, **extra}
            if code is not None:
                payload["code"] = code
            self._out.write(json.dumps(payload, sort_keys=True) + "\n")
            self._out.flush()
        else:
            self._err.write(f"error: {name}: {message}\n")
            self._err.flush()
