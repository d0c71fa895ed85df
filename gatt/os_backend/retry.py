"""Documented retries for the OS stacks' transient failures; no stack is patched.

- :func:`notify_with_backoff`: CoreBluetooth's ``updateValue`` returns False when its transmit
  queue is full (bless passes that on from ``update_value``); the notification must be offered
  again later. Back off exponentially, bounded by a deadline.
- :func:`connect_with_retry`: BlueZ sometimes fails a fresh LE connection transiently (a
  controller busy, "le-connection-abort-by-local", or bluetoothd handling the ATT channel
  before the kernel's connected event and then never signalling ``Connected``, which bleak
  reports as "failed to discover services, device disconnected"). Like bleak-retry-connector,
  try a few times with a growing pause; every failure but the last is logged, the last raised.
  The os central also drops BlueZ's stale connection after a failed attempt
  (:func:`gatt.os_backend.bluez.disconnect_device`), or the next attempt would meet it again.

Invariants: each helper calls its operation at least once, never after the deadline / attempt
budget, and re-raises nothing it was not asked to treat as transient.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gatt.errors import LinkTimeout

__all__ = ["connect_with_retry", "notify_with_backoff"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


async def notify_with_backoff(
    update: Callable[[], bool],
    *,
    within: float,
    first_delay: float = 0.005,
    max_delay: float = 0.1,
) -> int:
    """Call ``update`` until it returns True; return how many calls it took.

    Raises LinkTimeout if it still refuses after ``within`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    delay = first_delay
    calls = 1
    while not update():
        if loop.time() + delay > deadline:
            raise LinkTimeout(f"notification queue still full after {calls} tries")
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
        calls += 1
    return calls


async def connect_with_retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    is_transient: Callable[[BaseException], bool],
    attempts: int = 3,
    pause: float = 0.25,
) -> T:
    """Await ``attempt()`` up to ``attempts`` times while it fails transiently.

    Waits ``pause``, then twice that, ... between attempts. A non-transient failure, or the
    last transient one, propagates unchanged.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except Exception as error:
            if number == attempts or not is_transient(error):
                raise
            _log.info("connect attempt %d/%d failed transiently: %r", number, attempts, error)
            await asyncio.sleep(pause * 2 ** (number - 1))
    raise AssertionError("unreachable")  # pragma: no cover
