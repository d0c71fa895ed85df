"""A central that connects and then stalls, floods chunks, or announces a message larger than
the maximum: the payer drops it (phase timeout or framing error) with memory bounded by the
maximum message size, and the next, genuine payee on the same peripheral is served.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from gatt.errors import LinkClosed
from gatt.link import Link, LinkOptions
from gatt.memory import MemoryRadio
from gatt.spec import SERVICE
from p2ppay.roles import AutoApprove, PayeeRole, PayerRole
from p2ppay.roles.radio import PAYER_INFO
from protocol.session import Timeouts
from tests.reliability.conftest import RunCount
from tests.reliability.harness import QUICK, World
from tests.reliability.invariants import INVARIANTS, check, snapshot

pytestmark = pytest.mark.anyio

FAST = Timeouts(offer_ms=1_000, invoice_ms=400, reassembly_ms=400, receipt_ms=2_000)
"""The offer deadline is past the reassembly one, so a half-sent offer ends in FRAME_TIMEOUT."""
FLOOD_BYTES = 8 * 1024 * 1024
"""What the flooding central tries to push: far more than any message may hold."""
MEMORY_BOUND = 512 * 1024
"""Peak extra memory allowed while the payer handles a hostile central (a payment's
largest message is 4 KiB; this leaves room for the stack's own buffers, not for the flood)."""

Attack = Callable[[Link], Awaitable[None]]


async def stall(link: Link) -> None:
    """Connect and say nothing."""
    await anyio.sleep(10)


async def stall_mid_message(link: Link) -> None:
    """Start a message (length 200, "more") and never finish it."""
    await link.send(bytes([0x01]) + (200).to_bytes(2, "big") + b"x" * 17)
    await anyio.sleep(10)


async def flood(link: Link) -> None:
    """Chunks back to back, each one a well-formed continuation, far past any limit.

    The memory link has no flow control (a send never waits), so the flood yields after
    each chunk, as an ATT write waits for the radio; otherwise it would measure the memory
    link's queue, not the payer.
    """
    body = b"\xaa" * (link.max_chunk - 1)
    await link.send(bytes([0x01]) + (1024).to_bytes(2, "big") + body[2:])
    seq, sent = 1, link.max_chunk
    try:
        while sent < FLOOD_BYTES:
            await link.send(bytes([0x01 | ((seq % 64) << 1)]) + body)
            await anyio.lowlevel.checkpoint()
            seq, sent = seq + 1, sent + link.max_chunk
    except LinkClosed:
        return


async def oversized(link: Link) -> None:
    """Announce a 16384-byte message (over the 1024 allowed before negotiation), then send it."""
    body = b"\x55" * (link.max_chunk - 1)
    await link.send(bytes([0x01]) + (16384).to_bytes(2, "big") + body[2:])
    try:
        for seq in range(1, 16384 // len(body) + 2):
            await link.send(bytes([0x01 | ((seq % 64) << 1)]) + body)
            await anyio.lowlevel.checkpoint()
    except LinkClosed:
        return


ATTACKS: dict[str, tuple[Attack, set[str]]] = {
    "stall": (stall, {"SESSION_HANDSHAKE_TIMEOUT"}),
    "stall_mid_message": (stall_mid_message, {"FRAME_TIMEOUT"}),
    "flood": (flood, {"FRAME_OVERSIZED", "FRAME_TRAILING", "FRAME_TOO_MANY_CHUNKS"}),
    "oversized": (oversized, {"FRAME_OVERSIZED"}),
}


@pytest.mark.reliability(
    "link",
    "hostile central: connects then stalls / stalls mid-message / floods chunks / "
    "announces an oversized message; then a genuine payee",
    expect="the payer drops it with SESSION_HANDSHAKE_TIMEOUT / FRAME_TIMEOUT / FRAME_* "
    "and memory bounded; the next payee is paid",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize("mtu", [23, 247])
@pytest.mark.parametrize("name", list(ATTACKS))
async def test_a_hostile_central_is_dropped_and_the_next_payee_is_served(
    tmp_path: Path, name: str, mtu: int, runs: RunCount
) -> None:
    attack, codes = ATTACKS[name]
    world = World.make(tmp_path)
    radio = MemoryRadio()
    options = LinkOptions(max_att_mtu=mtu)
    with world.homes.open_payer() as payer_wallet, world.homes.open_payee() as payee_wallet:
        payer = PayerRole(
            wallet=payer_wallet,
            approver=AutoApprove(limit=100_00, currency="EUR"),
            timeouts=FAST,
        )
        async with (
            radio.open_peripheral(spec=SERVICE, info=PAYER_INFO, options=options) as peripheral,
            radio.open_central(spec=SERVICE, options=options) as central,
        ):
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                with anyio.fail_after(30):
                    async with anyio.create_task_group() as tg:

                        async def hostile() -> None:
                            found = await central.find(within=5)
                            link = await central.connect(found)
                            with anyio.CancelScope() as scope:
                                tg.start_soon(_cancel_when_closed, link, scope)
                                await attack(link)
                            await link.aclose()

                        tg.start_soon(hostile)
                        dropped = await payer.serve_one(peripheral)
                        tg.cancel_scope.cancel()
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
            assert dropped.status == "failed", dropped
            assert dropped.error in codes, dropped
            assert peak < MEMORY_BOUND, f"{peak} bytes"
            runs.add()

            payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1)
            invoice = payee.new_invoice(amount=3_00, currency="EUR")
            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    served: dict[str, str] = {}

                    async def serve() -> None:
                        served["payer"] = (await payer.serve_one(peripheral)).status

                    tg.start_soon(serve)
                    paid = await payee.collect(central, invoice)
            assert (served["payer"], paid.status) == ("completed", "completed")
            runs.add()
    check(world.homes.payer, world.homes.payee)
    assert snapshot(world.homes.payer).allowance == (1, 3_00)


async def _cancel_when_closed(link: Link, scope: anyio.CancelScope) -> None:
    """End the attack once the payer hung up (the memory link never blocks a sender)."""
    try:
        while True:
            await link.receive()
    except LinkClosed:
        scope.cancel()
