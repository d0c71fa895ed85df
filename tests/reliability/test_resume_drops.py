"""A retry that itself loses its link, after a crash: every side must still end cleanly.

Found by ``bench/soak.py`` (seed 1): the payer crashed after storing the receipt, the payee's
retry re-sent the same invoice, and the link dropped before the re-sent receipt arrived; the
payer's ``sessions.fail`` then tried ``payment_persisted -> receipt_persisted``, a payee-only
move, and raised ``BAD_TRANSITION`` out of ``serve_one`` (a ``pay`` loop would die there).
The fix is one condition in ``SessionLog.fail``: only the payee passes through
``receipt_persisted``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gatt.memory import MemoryFaults
from p2ppay.roles.crashpoints import CrashPoint
from tests.reliability.conftest import RunCount
from tests.reliability.harness import CRASHED, Run, World
from tests.reliability.invariants import INVARIANTS, check

pytestmark = pytest.mark.anyio

DONE = Run(payer="completed", payee="completed")
CLEAN_END = {"completed", "failed", "resumable"}


@pytest.mark.reliability(
    "crash",
    "payer crashes after storing the receipt; the retry's link then drops at every chunk",
    expect="every retry ends cleanly; the next retry completes",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize("mtu", [23, 247])
async def test_a_resumed_session_dropped_at_any_chunk_ends_cleanly(
    tmp_path: Path, mtu: int, runs: RunCount
) -> None:
    world = World.make(tmp_path)
    invoice = world.invoice(2_00)
    crashed = await world.attempt(invoice, mtu=mtu, crash_at=CrashPoint.PAYER_AFTER_PERSIST_RECEIPT)
    assert (crashed.payer, crashed.payee) == (CRASHED, "completed")
    for k in range(1, 200):
        dropped = await world.attempt(invoice, mtu=mtu, faults=MemoryFaults(att_mtu=mtu, drop_at=k))
        assert {dropped.payer, dropped.payee} <= CLEAN_END, (k, dropped)
        check(world.homes.payer, world.homes.payee)
        runs.add()
        if dropped == DONE:
            break
    assert await world.attempt(invoice, mtu=mtu) == DONE
