"""Verify a batch of bundles, in the serving process or on worker processes.

Verification is pure CPU (:func:`p2ppay.ledger.settlement.check_bundle`: CBOR, rules and
four Ed25519 signatures per bundle) and holds the GIL, so threads do not help; with
``workers`` > 0 a batch is split into chunks verified by that many worker processes
(``anyio.to_process``), which lets a ledger use every core. Results come back in order.

:class:`VerifiedCache` remembers the bundles that passed, by the hash of their exact bytes,
so the second party's upload of the same bundle (the common case) costs no verification.

Invariants:
- The answer is the same list :func:`check_bundle` gives in-process; workers see only the
  bundle bytes, the issuer key and the time.
- Only bundles that passed are cached: a pass cannot turn into a failure later (the rules
  are checked at the receipt's time, and the ledger's clock only makes a receipt older),
  while a refusal such as a receipt dated in the future may pass later.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import anyio
import anyio.to_process

from p2ppay.ledger.settlement import Checked, Outcome, check_bundle

__all__ = ["VerifiedCache", "check_bundles"]

_MIN_PER_CHUNK = 8


def _check_chunk(bundles: list[bytes], issuer: bytes, now: int) -> list[Checked | Outcome]:
    return [check_bundle(raw, issuer=issuer, now=now) for raw in bundles]


async def check_bundles(
    bundles: list[bytes], *, issuer: bytes, now: int, workers: anyio.CapacityLimiter | None
) -> list[Checked | Outcome]:
    """:func:`check_bundle` for each bundle, in order; on worker processes (at most
    ``workers.total_tokens`` at once) if ``workers`` is given, else in this process."""
    if workers is None or len(bundles) < 2 * _MIN_PER_CHUNK:
        return _check_chunk(bundles, issuer, now)
    limiter = workers
    size = max(_MIN_PER_CHUNK, -(-len(bundles) // int(workers.total_tokens)))
    chunks = [bundles[i : i + size] for i in range(0, len(bundles), size)]
    results: list[list[Checked | Outcome]] = [[] for _ in chunks]

    async def run(index: int) -> None:
        results[index] = await anyio.to_process.run_sync(
            _check_chunk, chunks[index], issuer, now, limiter=limiter
        )

    async with anyio.create_task_group() as tg:
        for index in range(len(chunks)):
            tg.start_soon(run, index)
    return [outcome for chunk in results for outcome in chunk]


class VerifiedCache:
    """The last ``size`` bundles that passed :func:`check_bundle`, by SHA-256 of the issuer
    key and the bundle's bytes."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, Checked] = OrderedDict()

    async def check(
        self,
        bundles: list[bytes],
        *,
        issuer: bytes,
        now: int,
        workers: anyio.CapacityLimiter | None,
    ) -> list[Checked | Outcome]:
        """:func:`check_bundles`, verifying only the bundles not seen passing before."""
        keys = [hashlib.sha256(issuer + raw).digest() for raw in bundles]
        results: list[Checked | Outcome | None] = [self._entries.get(k) for k in keys]
        todo = [i for i, r in enumerate(results) if r is None]
        fresh = await check_bundles(
            [bundles[i] for i in todo], issuer=issuer, now=now, workers=workers
        )
        for i, outcome in zip(todo, fresh, strict=True):
            results[i] = outcome
            if isinstance(outcome, Checked):
                self._entries[keys[i]] = outcome
        for key in keys:
            if key in self._entries:
                self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return [r for r in results if r is not None]
