"""The memory backend keeps the Link contract and injects the faults it is asked for."""

from __future__ import annotations

import anyio
import pytest

from gatt import Info, LinkClosed, LinkOptions, open_central, open_peripheral
from gatt.errors import BadAdapter, ChunkTooLarge, LinkTimeout
from gatt.memory import MemoryFaults, MemoryRadio, memory_pair, parse_faults
from gatt.spec import SERVICE, ServiceSpec, new_session_tag
from tests.gatt.exchange import exchange_both_ways, split

pytestmark = pytest.mark.anyio

INFO = Info(versions=(1,), max_message_size=65536)


async def test_central_finds_peripheral_by_tag_and_reads_its_info() -> None:
    tag = new_session_tag()
    async with (
        open_peripheral("memory:rssi=-42", info=INFO) as peripheral,
        open_central("memory") as central,
    ):
        async with anyio.create_task_group() as tg:
            accepted: list[object] = []

            async def accept() -> None:
                accepted.append(await peripheral.accept(tag=tag))

            tg.start_soon(accept)
            result = await central.find(tag=tag, within=5)
            link = await central.connect(result)
        assert (result.tag, result.rssi, result.name) == (tag, -42, "pp" + tag)
        assert link.peer.info == INFO
        assert link.peer.tag == tag
        await link.aclose()


async def test_central_ignores_peripherals_of_another_service() -> None:
    radio = MemoryRadio()
    other = ServiceSpec(
        uuid=SERVICE.uuid.__class__(int=SERVICE.uuid.int ^ 1),
        characteristics=SERVICE.characteristics,
    )
    async with (
        radio.open_peripheral(spec=other, info=INFO, options=LinkOptions()) as peripheral,
        radio.open_central(spec=SERVICE, options=LinkOptions()) as central,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: peripheral.accept(tag=new_session_tag()))
        with pytest.raises(LinkTimeout):
            await central.find(within=0.2)
        tg.cancel_scope.cancel()


@pytest.mark.parametrize("mtu", [23, 185, 247, 517])
async def test_memory_pair_moves_4kb_each_way_at_mtu(mtu: int) -> None:
    central, peripheral = memory_pair(MemoryFaults(att_mtu=mtu))
    assert central.max_chunk == min(mtu - 3, 510)
    assert peripheral.max_chunk == min(mtu - 3, 512)
    await exchange_both_ways(central, peripheral, 4096)


async def test_chunk_above_max_chunk_is_refused() -> None:
    central, _ = memory_pair(MemoryFaults(att_mtu=23))
    with pytest.raises(ChunkTooLarge):
        await central.send(bytes(21))


async def test_drop_at_chunk_n_loses_that_chunk_and_closes_both_sides() -> None:
    central, peripheral = memory_pair(MemoryFaults(att_mtu=23, drop_at=3))
    chunks = split(bytes(range(100)), central.max_chunk)
    await central.send(chunks[0])
    await central.send(chunks[1])
    with pytest.raises(LinkClosed):
        await central.send(chunks[2])
    assert [await peripheral.receive(), await peripheral.receive()] == chunks[:2]
    with pytest.raises(LinkClosed):
        await peripheral.receive()
    with pytest.raises(LinkClosed):
        await peripheral.send(b"x")


async def test_closing_one_side_raises_link_closed_on_the_other() -> None:
    central, peripheral = memory_pair()
    await peripheral.aclose()
    with anyio.fail_after(1), pytest.raises(LinkClosed):
        await central.receive()


async def test_delay_keeps_chunk_order() -> None:
    central, peripheral = memory_pair(MemoryFaults(delay=0.001))
    for i in range(5):
        await central.send(bytes([i]))
    assert [await peripheral.receive() for _ in range(5)] == [bytes([i]) for i in range(5)]


def test_adapter_string_sets_faults() -> None:
    assert parse_faults("memory:mtu=23,drop_at=5,delay=0.5,rssi=-70") == MemoryFaults(
        att_mtu=23, drop_at=5, delay=0.5, rssi=-70
    )


@pytest.mark.parametrize(
    "adapter", ["memory:mtu", "memory:mtu=x", "memory:color=red", "memory:mtu=600"]
)
def test_malformed_memory_adapter_is_bad_adapter(adapter: str) -> None:
    with pytest.raises((BadAdapter, ValueError)):
        parse_faults(adapter)


async def test_cancelled_accept_withdraws_the_advertisement() -> None:
    radio = MemoryRadio()
    async with (
        radio.open_peripheral(info=INFO, spec=SERVICE, options=LinkOptions()) as peripheral,
        radio.open_central(spec=SERVICE, options=LinkOptions()) as central,
    ):
        with anyio.move_on_after(0.05):
            await peripheral.accept(tag=new_session_tag())
        with pytest.raises(LinkTimeout):
            await central.find(within=0.1)
