"""The virtual radio's RSSI seam: each advertiser heard at the signal strength the radio holds."""

from __future__ import annotations

import functools

import anyio
import pytest

from gatt.bumble_backend import VirtualRadio
from gatt.bumble_backend.hosts import DEFAULT_RSSI
from gatt.link import ScanResult
from gatt.spec import new_session_tag
from tests.gatt.virtual import INFO

pytestmark = pytest.mark.anyio


async def _heard(radio: VirtualRadio, tags: list[str], within: float = 5.0) -> dict[str, int]:
    """The RSSI each of ``tags`` is heard at by a central on ``radio``."""
    heard: dict[str, int] = {}
    async with radio.open_central() as central:
        with anyio.fail_after(within):
            async with central.scan() as results:
                result: ScanResult
                async for result in results:
                    if result.tag in tags:
                        heard[result.tag] = result.rssi
                    if len(heard) == len(tags):
                        break
    return heard


async def test_each_virtual_peripheral_is_heard_at_its_own_rssi() -> None:
    radio = VirtualRadio()
    tags = [new_session_tag() for _ in range(3)]
    async with (
        radio.open_peripheral(info=INFO, rssi=-40) as near,
        radio.open_peripheral(info=INFO, rssi=-75) as far,
        radio.open_peripheral(info=INFO) as default,
        anyio.create_task_group() as tg,
    ):
        for peripheral, tag in zip((near, far, default), tags, strict=True):
            tg.start_soon(functools.partial(peripheral.accept, tag=tag))
        heard = await _heard(radio, tags)
        tg.cancel_scope.cancel()
    assert heard == {tags[0]: -40, tags[1]: -75, tags[2]: DEFAULT_RSSI}


async def test_set_rssi_changes_what_listeners_hear_next() -> None:
    radio = VirtualRadio()
    tag = new_session_tag()
    async with (
        radio.open_peripheral(info=INFO, rssi=-80) as peripheral,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: peripheral.accept(tag=tag))
        before = await _heard(radio, [tag])
        radio.set_rssi(peripheral, -35)
        after = await _heard(radio, [tag])
        tg.cancel_scope.cancel()
    assert (before[tag], after[tag]) == (-80, -35)


async def test_set_rssi_refuses_a_peripheral_of_another_radio() -> None:
    peripheral = VirtualRadio().open_peripheral(info=INFO)
    with pytest.raises(ValueError, match="not on this radio"):
        VirtualRadio().set_rssi(peripheral, -40)
