"""Questions to a person at the terminal that can be withdrawn.

One daemon thread reads standard input line by line into a queue; a question waits for the
next line by polling that queue, so waiting is cancellable at any moment (Ctrl-C, or the
payer's role withdrawing the question because the payee left) and no abandoned reader is
left behind to swallow the answer to the next question. Lines typed while no question is
open are dropped when the next question is asked: an old "y" never approves a new invoice.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import TextIO

import anyio

__all__ = ["TerminalPrompt"]

_POLL_SECONDS = 0.05


class TerminalPrompt:
    """``await prompt(question)``: write ``question`` on stderr, return the line typed."""

    def __init__(self, *, stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self._stdin = stdin or sys.stdin
        self._stderr = stderr or sys.stderr
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        for line in self._stdin:
            self._lines.put(line)
        self._lines.put(None)  # end of input: every later question is answered "no"

    async def __call__(self, question: str) -> str:
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="stdin", daemon=True)
            self._reader.start()
        self._drop_stale()
        self._stderr.write(question)
        self._stderr.flush()
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                await anyio.sleep(_POLL_SECONDS)
                continue
            if line is None:
                self._lines.put(None)
                return ""
            return line

    def _drop_stale(self) -> None:
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._lines.put(None)
                return
