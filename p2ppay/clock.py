"""The application's one clock: Unix time in milliseconds, passed in, never read ad hoc.

Invariants:
- :func:`wall_ms` is the only place p2ppay reads the wall clock for a decision; every part
  that needs the time (roles, kiosk, sync client, ledger) takes a :data:`Clock` argument
  whose default is :func:`wall_ms`, so a test or a caller fixes time by passing one in.
- Documents, the store and the ledger count in Unix seconds: :func:`seconds` of the same
  clock (floor division), so the two units never disagree about which second it is.
- Durations that are only measured for logs and metrics (``time.monotonic``) are not time
  in this sense: nothing is decided on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "Seconds", "in_seconds", "seconds", "wall_ms"]

Clock = Callable[[], int]
"""Returns Unix time in milliseconds."""

Seconds = Callable[[], int]
"""Returns Unix time in seconds (what documents, the store and the ledger count in)."""


def wall_ms() -> int:
    """The wall clock in Unix milliseconds: the default of every injected clock."""
    return time.time_ns() // 1_000_000


def seconds(clock: Clock) -> int:
    """``clock``'s time in Unix seconds."""
    return clock() // 1000


def in_seconds(clock: Clock) -> Seconds:
    """A seconds clock reading ``clock`` (for the APIs that count in seconds)."""
    return lambda: clock() // 1000
