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
from p2ppay.roles import AutoApprove, PayeeRole, PayerRole, SessionOutcome
from p2ppay.roles.radio import PAYER_INFO
from protocol.session import Timeouts
from tests.reliability.conftest import RunCount
from tests.reliability.harness import QUICK, World
from tests.reliability.invariants import INVARIANTS, check, snapshot

pytestmark = pytest.mark.anyio

WRITES = 60
"""Unframed random chunks a raw client writes (or fewer, once the payer hangs up)."""
SESSIONS = 4
"""Raw clients per test, one after another, before the genuine payee."""


def _chunks(rng: random.Random) -> list[bytes]:
    """Random bytes, half the time framed well enough to pass the reassembler (a first chunk
    announcing up to 1000 bytes, then numbered continuations), so Noise sees them too."""
    if rng.random() < 0.5:
        return [rng.randbytes(rng.randint(1, 20)) for _ in range(WRITES)]
    length = rng.randint(100, 1000)
    body = rng.randbytes(length)
    chunks = [bytes([0x01]) + length.to_bytes(2, "big") + body[:17]]
    rest, seq = body[17:], 1
    while rest:
        piece, rest = rest[:19], rest[19:]
        chunks.append(bytes([(0x01 if rest else 0x00) | ((seq % 64) << 1)]) + piece)
        seq += 1
    return chunks


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
            for chunk in _chunks(rng):
                if gone.is_set():
                    break
                target = state if rng.random() < 0.02 else c2s
                await peer.write_value(target, chunk)
                written += 1
                await anyio.sleep(0.002)  # let the payer read what the radio carried
        # The payer hangs up once it gives up; close this host only after that, so the
        # virtual link never carries a disconnect to a controller that is gone.
        with anyio.move_on_after(5):
            await gone.wait()
        if not gone.is_set():
            await connection.disconnect()
            await gone.wait()
    finally:
        await raw.close()
    return written


@pytest.mark.reliability(
    "fuzz",
    "over the air: a raw Bumble GATT client writes random chunks (and State values) to a "
    "running payer (4 clients per test: raw bytes or framed random messages)",
    expect="the payer drops each; the next genuine payment on the same payer completes",
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

            for _ in range(SESSIONS):
                with anyio.fail_after(60):
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(serve)
                        written = await _raw_client(radio, central, rng)
                assert written >= 1
                assert served[-1].status == "failed", served[-1]
                assert served[-1].error is not None
                runs.add()

            payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1)
            invoice = payee.new_invoice(amount=2_50, currency="EUR")
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    paid = await payee.collect(central, invoice)
            assert (served[-1].status, paid.status) == ("completed", "completed")
    check(world.homes.payer, world.homes.payee)
    assert snapshot(world.homes.payer).allowance == (1, 2_50)
