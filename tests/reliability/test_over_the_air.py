"""Over the air: a raw Bumble GATT client (no p2ppay code) connects to a running payer on the
virtual radio and writes random chunks; the payer drops it, and a genuine payment with the
same payer (same peripheral, same process) then completes.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import anyio
import pytest
from bumble.core import UUID as BumbleUUID
from bumble.device import Peer

from gatt.bumble_backend import VirtualRadio
from gatt.bumble_backend.hosts import VirtualHost
from gatt.link import LinkOptions
from gatt.spec import SERVICE, Role
from p2ppay.radio import PAYER_INFO
from p2ppay.roles import AutoApprove, PayeeRole, PayerRole, SessionOutcome
from protocol.session import Timeouts
from tests.reliability.conftest import RunCount
from tests.reliability.harness import QUICK, World
from tests.reliability.invariants import INVARIANTS, check, snapshot

pytestmark = pytest.mark.anyio

WRITES = 60
"""Random chunks each raw client writes (or fewer, once the payer hangs up)."""


async def _raw_client(radio: VirtualRadio, central: object, rng: random.Random) -> int:
    """Write random chunks to the first payer seen; return how many writes went through."""
    result = await central.find(within=5)  # type: ignore[attr-defined]
    raw = VirtualHost(radio)
    device = await raw.open()
    written = 0
    try:
        await device.power_on()
        connection = await device.connect(result.handle)
        gone = anyio.Event()
        connection.on("disconnection", lambda _reason: gone.set())
        peer = Peer(connection)
        [service] = await peer.discover_service(str(SERVICE.uuid))
        found = {c.uuid: c for c in await service.discover_characteristics()}
        state = found[BumbleUUID(str(SERVICE.characteristic(Role.STATE).uuid))]
        c2s = found[BumbleUUID(str(SERVICE.characteristic(Role.CLIENT2SERVER).uuid))]
        s2c = found[BumbleUUID(str(SERVICE.characteristic(Role.SERVER2CLIENT).uuid))]
        await peer.subscribe(s2c, lambda _: None)
        await peer.write_value(state, b"\x01", with_response=True)
        # Writes without response only: a write awaiting its response when the payer hangs up
        # is cancelled by Bumble, which is not what this test is about.
        with contextlib.suppress(Exception):
            for _ in range(WRITES):
                if gone.is_set():
                    break
                target = state if rng.random() < 0.05 else c2s
                await peer.write_value(target, rng.randbytes(rng.randint(1, 20)))
                written += 1
                await anyio.sleep(0.005)  # let the payer read what the radio carried
    finally:
        await raw.close()
    return written


@pytest.mark.reliability(
    "fuzz",
    "over the air: a raw Bumble GATT client writes random chunks (and State values) to a "
    "running payer",
    expect="the payer drops it; the next genuine payment on the same payer completes",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize("seed", range(3))
async def test_random_chunks_over_the_air_then_a_genuine_payment_completes(
    tmp_path: Path, seed: int, runs: RunCount
) -> None:
    rng = random.Random(seed)
    world = World.make(tmp_path)
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=247)
    with world.homes.open_payer() as payer_wallet, world.homes.open_payee() as payee_wallet:
        payer = PayerRole(
            wallet=payer_wallet,
            approver=AutoApprove(limit=100_00, currency="EUR"),
            timeouts=Timeouts(handshake_ms=1_000, reassembly_ms=1_000),
        )
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral,
            radio.open_central(options=options) as central,
        ):
            served: list[SessionOutcome] = []

            async def serve() -> None:
                served.append(await payer.serve_one(peripheral))

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    runs.add(await _raw_client(radio, central, rng))
            assert served[0].status == "failed", served[0]
            assert served[0].error is not None

            payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1)
            invoice = payee.new_invoice(amount=2_50, currency="EUR")
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    paid = await payee.collect(central, invoice)
            assert (served[1].status, paid.status) == ("completed", "completed")
    check(world.homes.payer, world.homes.payee)
    assert snapshot(world.homes.payer).allowance == (1, 2_50)
