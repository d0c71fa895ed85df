"""The kiosk's BLE adapter: kept open, checked while idle, reopened with backoff when lost.

A Bumble transport that goes away (the TCP controller stopped, a USB dongle pulled), or an
OS adapter reset, shows up as :class:`~gatt.errors.AdapterUnavailable` from the central's
scan (at once on a Bumble transport, and a scan already running ends with it). The
supervisor finds it either when the cashier reports it or with an idle check (start and
stop a scan every ``health_interval`` seconds, bounded by a timeout for stacks that hang
instead), closes the central, and reopens it after ``backoff_initial``, doubling up to
``backoff_max``.

Invariants:
- At most one central is open at a time, and only :meth:`AdapterSupervisor.run` opens or
  closes it.
- The radio is used by one task at a time (:meth:`AdapterSupervisor.use`): the cashier's
  payment or the idle check, never both; the idle check skips its turn while busy.
- :attr:`AdapterSupervisor.up` is True only while a central is open and its last use did
  not find it lost.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

from gatt.errors import AdapterUnavailable, GattError
from gatt.link import Central

__all__ = ["AdapterSupervisor", "CentralFactory", "backoff_delays"]

CentralFactory = Callable[[], Central]
"""Makes an unstarted central (``payee_central(adapter, options)`` in the daemon)."""

_CLOSE_TIMEOUT = 5.0
_PROBE_TIMEOUT = 3.0
"""Seconds an idle check may take: a transport that died under a running host may hang
its HCI commands instead of failing them."""

log = logging.getLogger("p2ppay.kiosk.adapter")


def backoff_delays(initial: float, maximum: float) -> Callable[[int], float]:
    """Delay before reopening after ``n`` failures in a row: ``initial * 2**n``, capped."""

    def delay(failures: int) -> float:
        return float(min(maximum, initial * 2 ** min(failures, 30)))

    return delay


class AdapterSupervisor:
    """Owns the central: opens it, watches it, reopens it."""

    def __init__(
        self,
        factory: CentralFactory,
        *,
        backoff_initial: float,
        backoff_max: float,
        health_interval: float,
        on_restart: Callable[[], None] = lambda: None,
    ) -> None:
        self._factory = factory
        self._delay = backoff_delays(backoff_initial, backoff_max)
        self._health_interval = health_interval
        self._on_restart = on_restart
        self._central: Central | None = None
        self._ready = anyio.Event()
        self._lost = anyio.Event()
        self._lock = anyio.Lock()
        self._opened_once = False
        self.last_error = ""
        """Why the adapter was last lost or failed to open (for /healthz)."""

    @property
    def up(self) -> bool:
        """True while a central is open and not known to be lost."""
        return self._central is not None and not self._lost.is_set()

    def report_lost(self, reason: str) -> None:
        """The caller found the adapter unusable: close it and reopen after a backoff."""
        if self._central is not None and not self._lost.is_set():
            log.warning("adapter lost", extra={"reason": reason})
            self.last_error = reason
            self._lost.set()

    async def wait_up(self) -> None:
        """Return once a central is open."""
        while not self.up:
            await self._ready.wait()

    @asynccontextmanager
    async def use(self) -> AsyncIterator[Central]:
        """The open central, held exclusively; AdapterUnavailable inside marks it lost."""
        await self.wait_up()
        async with self._lock:
            central = self._central
            if central is None or self._lost.is_set():
                raise AdapterUnavailable(self.last_error or "adapter lost")
            try:
                yield central
            except AdapterUnavailable as exc:
                self.report_lost(exc.message)
                raise

    async def run(self) -> None:
        """Keep the adapter open until cancelled."""
        failures = 0
        while True:
            try:
                await self._open_and_watch()
                failures = 0
            except GattError as exc:
                self.last_error = exc.message
                log.error(
                    "adapter unavailable",
                    extra={"reason": exc.message, "retry_in_s": self._delay(failures)},
                )
            await anyio.sleep(self._delay(failures))
            failures += 1

    async def _open_and_watch(self) -> None:
        central = self._factory()
        await central.start()
        try:
            if self._opened_once:
                self._on_restart()
                log.info("adapter reopened")
            else:
                log.info("adapter open")
            self._opened_once = True
            self._lost = anyio.Event()
            self._central = central
            ready, self._ready = self._ready, anyio.Event()
            ready.set()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._check_while_idle)
                await self._lost.wait()
                tg.cancel_scope.cancel()
        finally:
            self._central = None
            async with self._lock:
                with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                    try:
                        await central.aclose()
                    except Exception as exc:
                        # Closing a dead transport may fail in the stack's own terms (Bumble's
                        # TransportLostError...); the handle is dropped either way.
                        log.debug("closing a lost adapter failed", extra={"reason": str(exc)})

    async def _check_while_idle(self) -> None:
        while True:
            await anyio.sleep(self._health_interval)
            if self._lock.locked() or self._central is None:
                continue
            async with self._lock:
                central = self._central
                if central is None:
                    continue
                try:
                    with anyio.fail_after(_PROBE_TIMEOUT):
                        async with central.scan():
                            pass
                except GattError as exc:
                    self.report_lost(f"idle check: {exc.message}")
                except TimeoutError:
                    self.report_lost(f"idle check: no answer within {_PROBE_TIMEOUT:g}s")
