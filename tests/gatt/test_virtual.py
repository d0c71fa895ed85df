"""The Bumble backend on the in-process virtual radio: real ATT/GATT, no hardware."""

from __future__ import annotations

import asyncio
import gc
import secrets
import uuid
from dataclasses import replace

import anyio
import pytest
from bumble.core import UUID as BumbleUUID
from bumble.device import Peer
from bumble.hci import Address

from gatt import LinkClosed, LinkOptions, open_central, open_peripheral
from gatt.bumble_backend import VirtualRadio
from gatt.bumble_backend.hosts import VirtualHost
from gatt.errors import ChunkTooLarge, LinkTimeout
from gatt.link import Link
from gatt.spec import SERVICE, Role, new_session_tag
from tests.gatt.exchange import exchange_both_ways, receive_message, send_message
from tests.gatt.virtual import INFO, connect_pair, session

pytestmark = pytest.mark.anyio


async def test_scan_finds_the_peripheral_by_service_uuid_with_its_tag_and_rssi() -> None:
    radio = VirtualRadio()
    tag = new_session_tag()
    async with (
        radio.open_peripheral(info=INFO) as peripheral,
        radio.open_central() as central,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: peripheral.accept(tag=tag))
        result = await central.find(tag=tag, within=5)
        tg.cancel_scope.cancel()
    assert (result.tag, result.name) == (tag, "pp" + tag)
    assert -127 <= result.rssi <= 20
    assert result.address


async def test_peripheral_does_not_advertise_outside_accept() -> None:
    radio = VirtualRadio()
    async with radio.open_peripheral(info=INFO), radio.open_central() as central:
        with pytest.raises(LinkTimeout):
            await central.find(within=0.3)


async def test_scan_ignores_a_peripheral_of_another_service() -> None:
    radio = VirtualRadio()
    other = replace(SERVICE, uuid=uuid.UUID(int=SERVICE.uuid.int ^ 1))
    async with (
        radio.open_peripheral(info=INFO, spec=other) as peripheral,
        radio.open_central() as central,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: peripheral.accept(tag=new_session_tag()))
        with pytest.raises(LinkTimeout):
            await central.find(within=0.3)
        tg.cancel_scope.cancel()


async def test_central_reads_info_before_the_session_starts() -> None:
    async with session() as (central, peripheral):
        assert central.peer.info == INFO
        assert peripheral.peer.info is None


async def test_both_sides_see_the_same_session_tag() -> None:
    async with session() as (central, peripheral):
        assert central.peer.tag == peripheral.peer.tag


@pytest.mark.parametrize("mtu", [23, 185, 247, 517])
async def test_moves_4kb_each_way_at_att_mtu(mtu: int) -> None:
    async with session(mtu=mtu) as (central, peripheral):
        assert central.peer.att_mtu == peripheral.peer.att_mtu == mtu
        assert peripheral.max_chunk == min(mtu - 3, 512)
        assert central.max_chunk == min(mtu - 3, 510)
        await exchange_both_ways(central, peripheral, 4096)


async def test_write_with_response_fallback_moves_4kb_each_way() -> None:
    async with session(mtu=185, write_with_response=True) as (central, peripheral):
        await exchange_both_ways(central, peripheral, 4096)


async def test_chunk_above_max_chunk_is_refused_before_it_reaches_the_air() -> None:
    async with session(mtu=23) as (central, _):
        with pytest.raises(ChunkTooLarge):
            await central.send(bytes(21))


async def test_chunks_arrive_whole_and_in_order() -> None:
    async with session(mtu=185) as (central, peripheral):
        chunks = [secrets.token_bytes(1 + i) for i in range(150)]
        for chunk in chunks:
            await central.send(chunk)
        with anyio.fail_after(10):
            assert [await peripheral.receive() for _ in chunks] == chunks


async def test_each_session_uses_a_new_address_and_tag() -> None:
    radio = VirtualRadio()
    seen: list[tuple[str, str]] = []
    async with radio.open_peripheral(info=INFO) as peripheral, radio.open_central() as central:
        for _ in range(2):
            central_link, peripheral_link = await connect_pair(peripheral, central)
            seen.append((central_link.peer.address, central_link.peer.tag))
            await central_link.aclose()
            await peripheral_link.aclose()
    assert seen[0][0] != seen[1][0]
    assert seen[0][1] != seen[1][1]


async def test_a_second_central_is_refused_while_a_session_is_open() -> None:
    radio = VirtualRadio()
    async with (
        radio.open_peripheral(info=INFO) as peripheral,
        radio.open_central() as first,
        radio.open_central(options=LinkOptions(connect_timeout=1)) as second,
    ):
        central_link, peripheral_link = await connect_pair(peripheral, first)
        with pytest.raises(LinkTimeout):
            await second.find(within=0.3)
        with pytest.raises(RuntimeError):
            await peripheral.accept(tag=new_session_tag())
        await central_link.aclose()
        await peripheral_link.aclose()


@pytest.mark.parametrize("closer", ["peripheral", "central"])
async def test_disconnect_mid_message_raises_link_closed_on_both_sides(closer: str) -> None:
    async with session(mtu=23) as (central, peripheral):
        sender, receiver = (
            (peripheral, central) if closer == "peripheral" else (central, peripheral)
        )
        message = secrets.token_bytes(4096)
        # Half a message, then the sender's side goes away.
        await send_message(sender, message[:2048])
        await sender.aclose()
        with anyio.fail_after(5):
            with pytest.raises(LinkClosed):
                await receive_message(receiver, len(message))
            with pytest.raises(LinkClosed):
                await receiver.send(b"late")
            with pytest.raises(LinkClosed):
                await sender.send(b"late")


async def test_radio_drop_mid_message_raises_link_closed_on_both_sides() -> None:
    async with session(mtu=23) as (central, peripheral):
        await send_message(central, secrets.token_bytes(1024))
        # Drop at the HCI level without State END: what a lost radio link looks like.
        connection = central.connection  # type: ignore[attr-defined]
        await connection.disconnect()
        with anyio.fail_after(5):
            with pytest.raises(LinkClosed):
                await receive_message(peripheral, 4096)
            with pytest.raises(LinkClosed):
                await central.receive()


async def test_virtual_adapter_string_shares_one_radio_per_event_loop() -> None:
    tag = new_session_tag()
    async with (
        open_peripheral("virtual", info=INFO) as peripheral,
        open_central("virtual") as central,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: peripheral.accept(tag=tag))
        result = await central.find(tag=tag, within=5)
        link = await central.connect(result)
        await link.aclose()


async def test_100_connect_exchange_disconnect_cycles_leak_no_tasks() -> None:
    radio = VirtualRadio()
    async with radio.open_peripheral(info=INFO) as peripheral, radio.open_central() as central:
        baseline: int | None = None
        for cycle in range(100):
            central_link, peripheral_link = await connect_pair(peripheral, central)
            await exchange_both_ways(central_link, peripheral_link, 600)
            if cycle % 2:
                await central_link.aclose()
                await peripheral_link.aclose()
            else:
                await peripheral_link.aclose()
                await central_link.aclose()
            await anyio.sleep(0.01)
            tasks = len(asyncio.all_tasks())
            baseline = tasks if baseline is None else baseline
            assert tasks <= baseline, f"cycle {cycle}: {tasks} tasks, started with {baseline}"
    gc.collect()


async def test_at_mtu_517_writes_are_capped_at_510_and_notifications_at_512_bytes() -> None:
    async with session(mtu=517) as (central, peripheral):
        assert (central.max_chunk, peripheral.max_chunk) == (510, 512)
        with pytest.raises(ChunkTooLarge):
            await central.send(bytes(511))
        with pytest.raises(ChunkTooLarge):
            await peripheral.send(bytes(513))
        await central.send(bytes(510))
        await peripheral.send(bytes(512))
        with anyio.fail_after(5):
            assert await peripheral.receive() == bytes(510)
            assert await central.receive() == bytes(512)


async def test_peripheral_may_notify_the_moment_accept_returns() -> None:
    radio = VirtualRadio()
    tag = new_session_tag()
    async with (
        radio.open_peripheral(info=INFO) as peripheral,
        radio.open_central() as central,
        anyio.create_task_group() as tg,
    ):

        async def accept_and_send() -> None:
            link = await peripheral.accept(tag=tag)
            await link.send(b"first")

        tg.start_soon(accept_and_send)
        async with await central.connect(await central.find(tag=tag, within=5)) as link:
            with anyio.fail_after(5):
                assert await link.receive() == b"first"


async def test_notifications_arrive_whole_and_in_order() -> None:
    async with session(mtu=185) as (central, peripheral):
        chunks = [secrets.token_bytes(1 + i) for i in range(150)]
        for chunk in chunks:
            await peripheral.send(chunk)
        with anyio.fail_after(10):
            assert [await central.receive() for _ in chunks] == chunks


async def test_a_central_that_never_starts_a_session_is_dropped_and_advertising_resumes() -> None:
    radio = VirtualRadio()
    tag = new_session_tag()
    stray = VirtualHost(radio)
    options = LinkOptions(connect_timeout=0.3)
    async with (
        radio.open_peripheral(info=INFO, options=options) as peripheral,
        radio.open_central() as central,
        anyio.create_task_group() as tg,
    ):
        accepted: list[object] = []

        async def accept() -> None:
            accepted.append(await peripheral.accept(tag=tag))

        tg.start_soon(accept)
        result = await central.find(tag=tag, within=5)
        device = await stray.open()
        await device.power_on()
        try:
            # A bare GATT client that connects and then does nothing.
            assert isinstance(result.handle, Address)  # a Bumble scan result
            connection = await device.connect(result.handle)
            gone = anyio.Event()
            connection.on(connection.EVENT_DISCONNECTION, lambda *_: gone.set())
            with anyio.fail_after(5):
                await gone.wait()
            link = await central.connect(await central.find(tag=tag, within=5))
            await link.aclose()
        finally:
            await stray.close()


async def test_cancelled_accept_stops_advertising() -> None:
    radio = VirtualRadio()
    async with radio.open_peripheral(info=INFO) as peripheral, radio.open_central() as central:
        with anyio.move_on_after(0.2):
            await peripheral.accept(tag=new_session_tag())
        with pytest.raises(LinkTimeout):
            await central.find(within=0.3)


async def test_peripheral_opens_a_session_on_a_bare_one_byte_start() -> None:
    """A central of another backend may send START without the MTU (``01``)."""
    radio = VirtualRadio()
    tag = new_session_tag()
    raw = VirtualHost(radio)
    async with (
        radio.open_peripheral(info=INFO) as peripheral,
        radio.open_central() as central,
        anyio.create_task_group() as tg,
    ):
        accepted: list[Link] = []
        got_link, got_chunk = anyio.Event(), anyio.Event()
        received: list[bytes] = []

        async def accept() -> None:
            accepted.append(await peripheral.accept(tag=tag))
            got_link.set()

        def on_notification(value: bytes) -> None:
            received.append(value)
            got_chunk.set()

        tg.start_soon(accept)
        result = await central.find(tag=tag, within=5)
        device = await raw.open()
        await device.power_on()
        try:
            assert isinstance(result.handle, Address)  # a Bumble scan result
            gatt_peer = Peer(await device.connect(result.handle))
            [service] = await gatt_peer.discover_service(str(SERVICE.uuid))
            found = {c.uuid: c for c in await service.discover_characteristics()}
            state = found[BumbleUUID(str(SERVICE.characteristic(Role.STATE).uuid))]
            s2c = found[BumbleUUID(str(SERVICE.characteristic(Role.SERVER2CLIENT).uuid))]
            await gatt_peer.subscribe(s2c, on_notification)
            await gatt_peer.write_value(state, b"\x01", with_response=True)
            with anyio.fail_after(5):
                await got_link.wait()
                await accepted[0].send(b"hello")
                await got_chunk.wait()
            assert received == [b"hello"]
            assert accepted[0].max_chunk == 20  # no MTU exchange: the ATT default
            await accepted[0].aclose()
        finally:
            await raw.close()
