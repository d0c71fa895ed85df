"""Crash at every durability point of both roles, restart both, retry the same invoice.

In-process (see :mod:`tests.reliability.harness`): 10 crash points x 2 MTUs x 10 seeded runs
= 200 runs. A run makes 0-2 clean payments first (so the payer's chain is not at its start),
crashes one side during the next payment, reopens both wallets from disk, retries the same
invoice (on some seeds the first retry also loses its link at a random chunk and is retried
again), then makes one more payment, which must continue the chain. The invariants of
:mod:`tests.reliability.invariants` are checked after the crash, after the retry, and at
the end; so is the money: the payer spent exactly the sum of the invoices it paid.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gatt.memory import MemoryFaults
from p2ppay.roles.crashpoints import CrashPoint
from tests.reliability.conftest import RunCount
from tests.reliability.harness import CRASHED, Run, World
from tests.reliability.invariants import INVARIANTS, check, snapshot

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SEEDS = range(10)
DONE = Run(payer="completed", payee="completed")
CLEAN_END = {"completed", "failed", "resumable"}


async def _pay(world: World, amount: int, mtu: int) -> bytes:
    invoice = world.invoice(amount)
    assert await world.attempt(invoice, mtu=mtu) == DONE
    return invoice.doc.id


async def one_run(root: Path, point: CrashPoint, mtu: int, seed: int) -> None:
    rng = random.Random(f"{point.value}/{mtu}/{seed}")
    world = World.make(root)
    paid: list[int] = []
    for _ in range(rng.randrange(3)):
        paid.append(rng.randint(1, 20_00))
        await _pay(world, paid[-1], mtu)
    amount = rng.randint(1, 20_00)
    invoice = world.invoice(amount)

    crashed = await world.attempt(invoice, mtu=mtu, crash_at=point)
    assert getattr(crashed, point.role) == CRASHED, crashed
    survivor = crashed.payee if point.role == "payer" else crashed.payer
    assert survivor in CLEAN_END, crashed
    check(world.homes.payer, world.homes.payee)

    if rng.random() < 0.3:  # the first retry loses its link too, somewhere
        faults = MemoryFaults(att_mtu=mtu, drop_at=rng.randint(1, 30))
        dropped = await world.attempt(invoice, mtu=mtu, faults=faults)
        assert {dropped.payer, dropped.payee} <= CLEAN_END, dropped
        check(world.homes.payer, world.homes.payee)
    assert await world.attempt(invoice, mtu=mtu) == DONE
    check(world.homes.payer, world.homes.payee)
    paid.append(amount)

    paid.append(rng.randint(1, 20_00))
    await _pay(world, paid[-1], mtu)
    check(world.homes.payer, world.homes.payee)
    payer, payee = snapshot(world.homes.payer), snapshot(world.homes.payee)
    assert payer.allowance == (len(paid), sum(paid))
    assert len(payer.payments) == len(payee.payments) == len(payer.receipts) == len(paid)
    assert payee.payments[invoice.doc.id][2] == len(paid) - 1  # its counter, once


@pytest.mark.reliability(
    "crash",
    "in-process crash at each durability point (10 points x MTU 23/247), restart, retry",
    expect="the crashed side dies there; the other ends cleanly; the retry completes; "
    "the next payment continues the chain",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize("mtu", [23, 247])
@pytest.mark.parametrize("point", list(CrashPoint), ids=lambda p: p.value)
async def test_a_crash_at_each_point_then_a_retry_settles_the_invoice_once(
    tmp_path: Path, point: CrashPoint, mtu: int, runs: RunCount
) -> None:
    for seed in SEEDS:
        try:
            await one_run(tmp_path / str(seed), point, mtu, seed)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from exc
        runs.add()


@pytest.mark.reliability(
    "crash",
    "crash after re-sending a stored payment (the resumed path), restart, retry",
    expect="payer.after_send_payment fires on the resumed send too; the next retry completes",
    invariants=INVARIANTS,
)
async def test_the_after_send_point_fires_when_a_stored_payment_is_re_sent(
    tmp_path: Path,
) -> None:
    world = World.make(tmp_path)
    invoice = world.invoice(6_00)
    first = await world.attempt(invoice, crash_at=CrashPoint.PAYEE_AFTER_PERSIST_PAYMENT)
    assert (first.payer, first.payee) == ("resumable", CRASHED)
    resent = await world.attempt(invoice, crash_at=CrashPoint.PAYER_AFTER_SEND_PAYMENT)
    assert resent.payer == CRASHED
    check(world.homes.payer, world.homes.payee)
    assert await world.attempt(invoice) == DONE
    check(world.homes.payer, world.homes.payee)
    assert snapshot(world.homes.payer).allowance == (1, 6_00)
