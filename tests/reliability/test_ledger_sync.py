"""Crash at every durability point, retry, then sync both wallets to a real ledger (HTTP on
loopback, SQLite): the invoice settles once, the stores and the ledger agree, and the
ledger's conservation holds. Each point runs twice: syncing only after the retry, and
syncing both wallets right after the crash too (a half-done payment reaches the ledger
first), then again after the retry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from p2ppay.ledger import running_ledger
from p2ppay.roles.crashpoints import CrashPoint
from tests.reliability.conftest import RunCount
from tests.reliability.harness import CRASHED, Run
from tests.reliability.invariants import INVARIANTS, LEDGER_INVARIANTS, check
from tests.reliability.ledgered import check_ledger, ledger_world, sync_both

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

DONE = Run(payer="completed", payee="completed")


@pytest.mark.reliability(
    "crash",
    "crash at each durability point, restart, retry, then both wallets sync to the ledger "
    "(also syncing right after the crash)",
    expect="one settlement per invoice; payee credited once; stores and ledger agree; "
    "conservation holds",
    invariants=(*INVARIANTS, *LEDGER_INVARIANTS),
)
@pytest.mark.parametrize("point", list(CrashPoint), ids=lambda p: p.value)
async def test_a_crash_then_a_retry_then_sync_settles_once(
    tmp_path: Path, point: CrashPoint, runs: RunCount
) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        w = await ledger_world(tmp_path, ledger)
        paid: dict[bytes, int] = {}
        for amount, sync_between in ((3_00, False), (4_00, True)):
            invoice = w.world.invoice(amount)
            crashed = await w.world.attempt(invoice, crash_at=point)
            assert getattr(crashed, point.role) == CRASHED
            if sync_between:
                await sync_both(w)
            assert await w.world.attempt(invoice) == DONE
            paid[invoice.doc.id] = amount
            await sync_both(w)
            check(w.world.homes.payer, w.world.homes.payee)
            await check_ledger(w, paid)
            runs.add()
