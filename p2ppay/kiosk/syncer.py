"""Background sync: hand the store's outbox to the ledger whenever it answers.

The kiosk does not know how to talk to the ledger; it is given a :data:`SyncFn` (the sync
client's "sync the outbox once" call) and only decides when to call it: every
``interval`` seconds, and soon after a payment was stored, but never more often than
``min_gap`` seconds.

Invariants:
- A failed sync (any exception) changes nothing here but the metrics and a log line; the
  outbox keeps its records, the next run tries again, and payments go on offline.
- At most one sync runs at a time; a sync never holds the radio.
- The backlog shown in /metrics is read from the store (outbox records not yet settled),
  not counted here, so it is right across restarts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio

from p2ppay.clock import Clock, in_seconds, wall_ms
from p2ppay.kiosk.metrics import KioskMetrics
from p2ppay.store import OutboxStatus, Store
from p2ppay.wallet import Wallet

__all__ = ["SyncFn", "Syncer", "backlog", "ledger_sync"]

SyncFn = Callable[[], Awaitable[object]]
"""Sync the outbox once; raise on failure (unreachable ledger, refusal)."""

log = logging.getLogger("p2ppay.kiosk.sync")


def backlog(store: Store) -> int:
    """Outbox records the ledger has not settled yet (pending or sent)."""
    outbox = store.outbox
    return len(outbox.items(OutboxStatus.PENDING)) + len(outbox.items(OutboxStatus.SENT))


def ledger_sync(wallet: Wallet, url: str, *, clock: Clock = wall_ms) -> SyncFn:
    """The sync client's outbox upload for ``wallet`` against the ledger at ``url``."""
    # The HTTP client is imported only by a kiosk that has a ledger configured.
    from p2ppay.sync import LedgerClient, RetryPolicy, ledger_ca_file, sync_outbox

    # A private CA for the ledger's https: the one `p2ppay trust-ledger URL --ca-file PEM`
    # remembered in this home (the kiosk pins its ledger key the same way).
    ca_file = ledger_ca_file(wallet.home, None)

    async def sync() -> object:
        # One try per call: the syncer's own interval is the retry, and a payment never waits.
        retry = RetryPolicy(attempts=1, timeout=15.0)
        async with LedgerClient(
            url, wallet.identity.signing_key, retry=retry, ca_file=ca_file
        ) as client:
            return await sync_outbox(wallet.store, client, now=in_seconds(clock))

    return sync


class Syncer:
    """Calls ``sync`` on a timer and after payments."""

    def __init__(
        self,
        sync: SyncFn,
        *,
        interval: float,
        metrics: KioskMetrics,
        min_gap: float = 2.0,
        clock: Clock = wall_ms,
    ) -> None:
        self._clock = clock
        self._sync = sync
        self._interval = interval
        self._min_gap = min(min_gap, interval)
        self._metrics = metrics
        self._wake = anyio.Event()

    def poke(self) -> None:
        """A payment was stored: sync soon."""
        self._wake.set()

    async def run(self) -> None:
        """Sync until cancelled."""
        while True:
            await self.sync_once()
            with anyio.move_on_after(self._interval):
                await self._wake.wait()
            self._wake = anyio.Event()
            await anyio.sleep(self._min_gap)

    async def sync_once(self) -> bool:
        """One sync; True if it succeeded."""
        started = time.monotonic()
        try:
            report = await self._sync()
        except Exception as exc:
            # Any failure of the injected client is an offline ledger to us: keep going.
            self._metrics.sync_runs["error"] += 1
            log.warning("sync failed", extra={"reason": str(exc), "error": type(exc).__name__})
            return False
        self._metrics.sync_runs["ok"] += 1
        self._metrics.last_sync_success = self._clock() / 1000
        # The report's own JSON form (counts by outcome), never a Python repr in a JSON log.
        as_json = getattr(report, "as_json", None)
        log.info(
            "synced",
            extra={
                "ms": round((time.monotonic() - started) * 1000, 1),
                "report": as_json() if callable(as_json) else str(report),
            },
        )
        return True
