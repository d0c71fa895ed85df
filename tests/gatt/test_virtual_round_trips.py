"""Profile 2 sets a session up in 5 ATT round trips, and either profile version of a central
works with either version of a peripheral (gatt/SERVICE.md, "Profile versions").

The ATT PDUs are read back from a btsnoop capture of the peripheral's own HCI traffic (the
same parser bench/tap.py uses), so what is counted is what went over the air.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from bumble import gatt
from bumble.core import UUID
from bumble.device import Peer
from bumble.hci import Address
from bumble.snoop import BtSnooper

from gatt.bumble_backend import BumbleCentral, BumblePeripheral, VirtualRadio
from gatt.capture import Direction, parse_btsnoop
from gatt.errors import LinkClosed
from gatt.link import LinkOptions
from gatt.spec import (
    SERVICE,
    Properties,
    Role,
    ServiceSpec,
    encode_start,
    is_end,
    new_session_tag,
    starts_by_command,
)
from tests.gatt.exchange import exchange_both_ways
from tests.gatt.virtual import INFO, connect_pair

pytestmark = pytest.mark.anyio

OPTIONS = LinkOptions(max_att_mtu=517)


def _profile_1() -> ServiceSpec:
    """The service as a profile-1 peripheral serves it: State without write-without-response."""
    state = SERVICE.characteristic(Role.STATE)
    old_state = dataclasses.replace(state, properties=Properties.WRITE | Properties.NOTIFY)
    return dataclasses.replace(
        SERVICE,
        characteristics=tuple(
            old_state if c.role is Role.STATE else c for c in SERVICE.characteristics
        ),
    )


@asynccontextmanager
async def _snooped(peripheral: BumblePeripheral) -> AsyncIterator[io.BytesIO]:
    capture = io.BytesIO()
    peripheral.device.host.snooper = BtSnooper(capture)
    try:
        yield capture
    finally:
        peripheral.device.host.snooper = None


def _received(capture: io.BytesIO) -> list[str]:
    (connection,) = [c for c in parse_btsnoop(capture.getvalue()).values() if c.pdus]
    return [p.name for p in connection.pdus if p.direction is Direction.RECEIVED]


def _set_up(received: list[str]) -> list[str]:
    """What the central sent before its first chunk (START included)."""
    return received[: received.index("WRITE_CMD") + 1]


async def test_profile_2_sets_up_in_five_round_trips_and_ends_with_one_subscription() -> None:
    radio = VirtualRadio()
    async with (
        radio.open_peripheral(info=INFO, options=OPTIONS) as peripheral,
        radio.open_central(options=OPTIONS) as central,
        _snooped(peripheral) as capture,
    ):
        central_link, peripheral_link = await connect_pair(peripheral, central)
        await exchange_both_ways(central_link, peripheral_link, 2048)
        await peripheral_link.aclose()  # END from the peripheral, as an empty notification
        with anyio.fail_after(5), pytest.raises(LinkClosed):
            while True:
                assert await central_link.receive() != b""  # END is never a chunk
        await central_link.aclose()
    assert starts_by_command(SERVICE.characteristic(Role.STATE).properties)
    assert _set_up(_received(capture)) == [
        "EXCHANGE_MTU_REQ",
        "FIND_BY_TYPE_VALUE_REQ",  # the service, once: its answer carries the end handle
        "READ_BY_TYPE_REQ",  # every characteristic in one answer at MTU 517
        "READ_REQ",  # Info
        "WRITE_REQ",  # the Server2Client CCCD (deduced, not discovered); no State CCCD
        "WRITE_CMD",  # START, no round trip
    ]


async def test_a_profile_2_central_falls_back_for_a_profile_1_peripheral() -> None:
    radio = VirtualRadio()
    async with (
        radio.open_peripheral(info=INFO, spec=_profile_1(), options=OPTIONS) as peripheral,
        radio.open_central(options=OPTIONS) as central,
        _snooped(peripheral) as capture,
    ):
        central_link, peripheral_link = await connect_pair(peripheral, central)
        await exchange_both_ways(central_link, peripheral_link, 2048)
        await peripheral_link.aclose()  # END on State: the central subscribed there
        with anyio.fail_after(5), pytest.raises(LinkClosed):
            while True:
                await central_link.receive()
        await central_link.aclose()
    received = _received(capture)
    set_up = received[: received.index("WRITE_CMD")]
    assert set_up[-3:] == ["WRITE_REQ", "WRITE_REQ", "WRITE_REQ"]  # two CCCDs, START
    assert "FIND_INFORMATION_REQ" not in set_up


class _Profile1Central:
    """A profile-1 central as it was written before profile 2 (Bumble's own discovery, both
    subscriptions, START with response): the seam is the whole set-up, done by hand."""

    def __init__(self, central: BumbleCentral) -> None:
        self.central = central
        self.chunks: list[bytes] = []
        self.state: list[bytes] = []
        self.state_notified = anyio.Event()
        self.peer: Peer | None = None
        self.characteristics: dict[Role, Any] = {}

    def _on_state(self, value: bytes) -> None:
        self.state.append(value)
        self.state_notified.set()

    async def connect(self, tag: str) -> None:
        result = await self.central.find(tag=tag, within=5)
        device = self.central.device
        assert isinstance(result.handle, Address)  # a Bumble scan result
        connection = await device.connect(result.handle)
        peer = Peer(connection)
        await peer.request_mtu(517)
        (service,) = await peer.discover_service(UUID(str(SERVICE.uuid)))
        found = await service.discover_characteristics()
        for spec in SERVICE.characteristics:
            self.characteristics[spec.role] = next(
                c for c in found if c.uuid == UUID(str(spec.uuid))
            )
        await peer.subscribe(self.characteristics[Role.SERVER2CLIENT], self.chunks.append)
        await peer.subscribe(self.characteristics[Role.STATE], self._on_state)
        await peer.write_value(
            self.characteristics[Role.STATE], encode_start(517), with_response=True
        )
        self.peer = peer


async def test_a_profile_1_central_still_works_with_a_profile_2_peripheral() -> None:
    radio = VirtualRadio()
    tag = new_session_tag()
    async with (
        radio.open_peripheral(info=INFO, options=OPTIONS) as peripheral,
        radio.open_central(options=OPTIONS) as central,
    ):
        old = _Profile1Central(central)
        accepted = []

        async def accept() -> None:
            accepted.append(await peripheral.accept(tag=tag))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(accept)
                await old.connect(tag)
        (link,) = accepted
        await link.send(b"chunk")
        assert old.peer is not None
        await old.peer.write_value(
            old.characteristics[Role.CLIENT2SERVER], b"up", with_response=False
        )
        with anyio.fail_after(5):
            assert await link.receive() == b"up"
        await link.aclose()
        with anyio.fail_after(5):
            await old.state_notified.wait()
    assert [is_end(v) for v in old.state] == [True]
    assert old.chunks == [b"chunk"]  # END came on State, not as an empty chunk


async def test_a_cccd_not_right_after_the_value_is_looked_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The seam: a peripheral whose Server2Client carries one more descriptor (a user
    # description), so its CCCD cannot be deduced from the handle layout.
    made = BumblePeripheral._characteristic

    def with_description(self: BumblePeripheral, spec: Any) -> Any:
        characteristic = made(self, spec)
        if spec.role is Role.SERVER2CLIENT:
            description = gatt.Descriptor(
                gatt.GATT_CHARACTERISTIC_USER_DESCRIPTION_DESCRIPTOR,
                gatt.Descriptor.Permissions.READABLE,
                b"chunks",
            )
            characteristic.descriptors = [description, *characteristic.descriptors]
        return characteristic

    monkeypatch.setattr(BumblePeripheral, "_characteristic", with_description)
    radio = VirtualRadio()
    async with (
        radio.open_peripheral(info=INFO, options=OPTIONS) as peripheral,
        radio.open_central(options=OPTIONS) as central,
        _snooped(peripheral) as capture,
    ):
        central_link, peripheral_link = await connect_pair(peripheral, central)
        await exchange_both_ways(central_link, peripheral_link, 1024)
        await central_link.aclose()
        await peripheral_link.aclose()
    set_up = _set_up(_received(capture))
    assert set_up.count("FIND_INFORMATION_REQ") == 1
    assert set_up.count("WRITE_REQ") == 1


async def test_at_mtu_23_discovery_stops_at_the_last_characteristic_it_needs() -> None:
    # One 128-bit declaration per Read By Type answer at MTU 23: four requests, and no fifth
    # to hear "not found", no Find Information.
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=23)
    async with (
        radio.open_peripheral(info=INFO, options=options) as peripheral,
        radio.open_central(options=options) as central,
        _snooped(peripheral) as capture,
    ):
        central_link, peripheral_link = await connect_pair(peripheral, central)
        await exchange_both_ways(central_link, peripheral_link, 256)
        await central_link.aclose()
        await peripheral_link.aclose()
    assert _set_up(_received(capture)) == [
        "FIND_BY_TYPE_VALUE_REQ",
        *["READ_BY_TYPE_REQ"] * 4,
        "READ_REQ",
        "WRITE_REQ",
        "WRITE_CMD",
    ]
