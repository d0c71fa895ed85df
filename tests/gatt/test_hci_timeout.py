"""An adapter that stops answering HCI commands is AdapterUnavailable, never a Bumble traceback.

The seam: a controller on Bumble's virtual radio whose host stops getting answers to its HCI
commands once the test says so, as happens to a client of a TCP-hosted controller that
another client took over, or to a wedged dongle. Bumble then raises its own
``CommandTimeoutError`` after the device's ``command_timeout`` (shortened here); the backend
must turn it into the typed AdapterUnavailable that the CLI prints as a code, and closing
such an adapter must neither raise nor hang.
"""

from __future__ import annotations

import time

import anyio
import pytest
from bumble.device import Device
from bumble.transport.common import TransportSink

from gatt.bumble_backend import BumbleCentral, BumblePeripheral, VirtualRadio
from gatt.bumble_backend.hosts import VirtualHost
from gatt.errors import AdapterUnavailable
from gatt.link import LinkOptions
from gatt.spec import SERVICE, new_session_tag
from tests.gatt.virtual import INFO

pytestmark = pytest.mark.anyio

COMMAND_TIMEOUT = 0.3
"""Seconds Bumble waits for an HCI answer here (its default is 10)."""

_HCI_COMMAND_PACKET = 0x01


class DeafHost(VirtualHost):
    """A virtual controller whose answers stop reaching the host once :meth:`deafen` ran."""

    def __init__(self, radio: VirtualRadio) -> None:
        super().__init__(radio)
        self.deaf = False

    def deafen(self) -> None:
        self.deaf = True

    async def open(self) -> Device:
        device = await super().open()
        device.command_timeout = COMMAND_TIMEOUT
        host = device.host
        assert host.hci_sink is not None  # open() has connected the host to its controller
        sink: TransportSink = host.hci_sink
        opener = self

        class Dropping:
            """Drops the host's HCI commands while deaf: no answer ever comes back."""

            def on_packet(self, packet: bytes) -> None:
                if opener.deaf and packet[:1] == bytes([_HCI_COMMAND_PACKET]):
                    return
                sink.on_packet(packet)

        host.hci_sink = Dropping()
        return device


async def test_a_peripheral_whose_controller_stops_answering_fails_typed() -> None:
    radio = VirtualRadio()
    host = DeafHost(radio)
    started = time.monotonic()
    with anyio.fail_after(10):
        async with BumblePeripheral(
            host=host, spec=SERVICE, info=INFO, options=LinkOptions()
        ) as peripheral:
            host.deafen()
            with pytest.raises(AdapterUnavailable) as err:
                await peripheral.accept(tag=new_session_tag())
    # Closing the wedged adapter did not raise and stayed bounded.
    assert time.monotonic() - started < 8
    assert "did not answer an HCI command" in err.value.message


async def test_a_central_whose_controller_stops_answering_fails_typed() -> None:
    radio = VirtualRadio()
    host = DeafHost(radio)
    tag = new_session_tag()
    with anyio.fail_after(15):
        async with (
            radio.open_peripheral(info=INFO) as peripheral,
            BumbleCentral(host=host, spec=SERVICE, options=LinkOptions()) as central,
            anyio.create_task_group() as tg,
        ):

            async def advertise() -> None:
                with pytest.raises(anyio.get_cancelled_exc_class()):
                    await peripheral.accept(tag=tag)

            tg.start_soon(advertise)
            found = await central.find(tag=tag, within=5)
            host.deafen()
            with pytest.raises(AdapterUnavailable) as connecting:
                await central.connect(found)
            with pytest.raises(AdapterUnavailable) as scanning:
                async with central.scan():
                    pass
            tg.cancel_scope.cancel()
    assert "did not answer an HCI command" in connecting.value.message
    assert "did not answer an HCI command" in scanning.value.message
