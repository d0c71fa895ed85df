"""Verify a batch of bundles, in the serving process or on worker processes.

Verification is pure CPU (:func:`p2ppay.ledger.settlement.check_bundle`: CBOR, rules and
four Ed25519 signatures per bundle) and holds the GIL, so threads do not help; with
``workers`` > 0 a batch is split into chunks verified by that many worker processes
(``anyio.to_process``), which lets a ledger use every core. Results come back in order.

Invariant: the answer is the same list :func:`check_bundle` gives in-process; workers see
only the bundle bytes, the issuer key and the time.
"""

from __future__ import annotations

import anyio
import anyio.to_process

from p2ppay.ledger.settlement import Checked, Outcome, check_bundle

__all__ = ["check_bundles"]

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
