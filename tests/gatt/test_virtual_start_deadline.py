"""The Bumble peripheral drops a central that does not START in time, and then refuses that
address at once for a while (gatt.backoff), advertising again right away each time."""

from __future__ import annotations

import time

import anyio
import pytest
from bumble import hci
from bumble.device import Connection

from gatt.backoff import BackOffPolicy
from gatt.bumble_backend import VirtualRadio
from gatt.bumble_backend.peripheral import BumblePeripheral
from gatt.link import LinkOptions
from gatt.spec import Info, new_session_tag

pytestmark = pytest.mark.anyio

INFO = Info(versions=(1,), max_message_size=4096)


async def _connected_for(central_device: object, address: hci.Address) -> float:
    """Connect without any GATT, wait to be dropped; return how long the link lasted."""
    connection: Connection = await central_device.connect(  # type: ignore[attr-defined]
        address, own_address_type=hci.OwnAddressType.RANDOM, timeout=5.0
    )
    start = time.monotonic()
    gone = anyio.Event()
    connection.on(connection.EVENT_DISCONNECTION, lambda *_: gone.set())
    await gone.wait()
    return time.monotonic() - start


async def _advertising(peripheral: BumblePeripheral) -> None:
    # Bumble has no event for "advertising enabled": look at its real state.
    while not peripheral.device.is_advertising:  # noqa: ASYNC110
        await anyio.sleep(0.01)


async def test_no_start_in_time_is_dropped_then_the_address_is_refused_at_once() -> None:
    radio = VirtualRadio()
    options = LinkOptions(start_timeout=1.0, backoff=BackOffPolicy(first_ban=30))
    async with (
        radio.open_peripheral(info=INFO, options=options) as peripheral,
        radio.open_central(options=options) as central,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: peripheral.accept(tag=new_session_tag()))
        with anyio.fail_after(10):
            found = await central.find(within=5)
            assert isinstance(found.handle, hci.Address)
            first = await _connected_for(central.device, found.handle)
            await _advertising(peripheral)  # again, at once
            again = await _connected_for(central.device, found.handle)
            await _advertising(peripheral)
        tg.cancel_scope.cancel()
    assert 1.0 <= first < 3.0  # held until the START deadline, not longer
    assert again < 0.5  # banned: dropped as soon as it connects
