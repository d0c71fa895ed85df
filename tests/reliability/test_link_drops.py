"""Drop the link at every chunk of every message of a payment, at MTU 23 and 247, on the
memory link and on Bumble's virtual radio (real ATT/GATT, a real disconnect).

For each chunk index k from 1 until a payment no longer reaches chunk k: a fresh invoice,
one session whose link dies at chunk k (every side must end completed, resumable or failed:
never hang, never raise), then a retry of the same invoice on a good link, which must
complete. The store invariants hold after every drop and every retry.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gatt.bumble_backend import VirtualRadio
from gatt.link import LinkOptions
from gatt.memory import MemoryFaults
from p2ppay.roles import PayeeRole
from p2ppay.roles.radio import PAYER_INFO
from tests.reliability.conftest import RunCount
from tests.reliability.faulty import DroppingPeripheral
from tests.reliability.harness import QUICK, Run, World, payer_role
from tests.reliability.invariants import INVARIANTS, check, snapshot

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

DONE = Run(payer="completed", payee="completed")
CLEAN_END = {"completed", "failed", "resumable"}
MAX_CHUNKS = 200
"""A payment never needs this many chunks (it would mean a drop that is never reached)."""


def _ended_cleanly(run: Run) -> None:
    assert run.payer in CLEAN_END and run.payee in CLEAN_END, run


@pytest.mark.reliability(
    "link",
    "memory link dropped at every chunk of every message (MTU 23 and 247)",
    expect="each run ends completed or cleanly failed; a retry of the same invoice completes",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize("mtu", [23, 247])
async def test_memory_link_dropped_at_every_chunk_then_retried(
    tmp_path: Path, mtu: int, runs: RunCount
) -> None:
    world = World.make(tmp_path, limit=1_000_00)
    for k in range(1, MAX_CHUNKS):
        invoice = world.invoice(1_00 + k)
        dropped = await world.attempt(invoice, mtu=mtu, faults=MemoryFaults(att_mtu=mtu, drop_at=k))
        _ended_cleanly(dropped)
        check(world.homes.payer, world.homes.payee)
        runs.add()
        if dropped == DONE:
            break  # k is past the last chunk of a whole payment
        assert await world.attempt(invoice, mtu=mtu) == DONE
        check(world.homes.payer, world.homes.payee)
    else:
        pytest.fail("the drop was never past the end of a payment")
    assert k > 5  # every message was cut somewhere
    payer = snapshot(world.homes.payer)
    assert payer.allowance == (k, sum(1_00 + i for i in range(1, k + 1)))


async def _session(
    world: World, peripheral: DroppingPeripheral, central: object, invoice: object
) -> Run:
    ends: dict[str, tuple[str, str | None]] = {}
    with world.homes.open_payer() as payer_wallet, world.homes.open_payee() as payee_wallet:
        payer = payer_role(payer_wallet)
        payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1)

        async def serve() -> None:
            out = await payer.serve_one(peripheral)
            ends["payer"] = (out.status, out.error)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(serve)
                out = await payee.collect(central, invoice)  # type: ignore[arg-type]
                ends["payee"] = (out.status, out.error)
    return Run(payer=ends["payer"][0], payee=ends["payee"][0])


@pytest.mark.reliability(
    "link",
    "virtual radio (Bumble, real ATT/GATT) disconnected at every chunk of every message "
    "(MTU 23 and 247)",
    expect="each run ends completed or cleanly failed; a retry of the same invoice completes",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize("mtu", [23, 247])
async def test_virtual_radio_dropped_at_every_chunk_then_retried(
    tmp_path: Path, mtu: int, runs: RunCount
) -> None:
    world = World.make(tmp_path, limit=1_000_00)
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=mtu)
    async with (
        radio.open_peripheral(info=PAYER_INFO, options=options) as inner,
        radio.open_central(options=options) as central,
    ):
        peripheral = DroppingPeripheral(inner)
        for k in range(1, MAX_CHUNKS):
            invoice = world.invoice(1_00 + k)
            peripheral.drop_at = k
            dropped = await _session(world, peripheral, central, invoice)
            _ended_cleanly(dropped)
            check(world.homes.payer, world.homes.payee)
            runs.add()
            assert peripheral.last is not None
            if peripheral.last.count < k:
                assert dropped == DONE
                break
            peripheral.drop_at = None
            assert await _session(world, peripheral, central, invoice) == DONE
            check(world.homes.payer, world.homes.payee)
        else:
            pytest.fail("the drop was never past the end of a payment")
    assert k > 5
