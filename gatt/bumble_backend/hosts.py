"""Where a Bumble device's controller lives: the in-process virtual radio, or a transport.

- :class:`VirtualRadio`: a Bumble ``LocalLink`` shared by every device opened on it in one
  event loop; the ``virtual`` adapter uses one radio per event loop (an anyio ``RunVar``), so
  a payer and a payee opened with ``virtual`` in the same loop hear each other, and two
  tests (two loops) never do. Tests and the demo may also make their own radio and open
  both roles on it (``radio.open_peripheral(...)``, ``radio.open_central(...)``).
- Signal strength on the virtual radio (a test seam): Bumble's controller reports every
  advertisement at a fixed -50 dBm (``Controller.on_advertising_pdu``). Controllers on a
  :class:`VirtualRadio` rewrite the RSSI of each advertising report they hand their host
  to the value the radio holds for the advertiser (``open_peripheral(rssi=...)`` or
  :meth:`VirtualRadio.set_rssi`), :data:`DEFAULT_RSSI` otherwise. The RSSI is per
  advertiser, the same for every listener: enough for "the nearest of several payers".
- :class:`TransportHost`: a Bumble host on any Bumble transport string (``usb:0``,
  ``tcp-client:127.0.0.1:9101``, ``serial:/dev/ttyACM0``, ``hci-socket:0``...), opened when
  the role starts and closed when it stops.

Invariant: each opener owns exactly the controller or transport it opened and releases it
in ``close``, so a role can be opened and closed in a loop without leaking.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anyio.lowlevel import RunVar
from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from gatt.bumble_backend._common import HostOpener, closing, new_device, opening
from gatt.link import LinkOptions
from gatt.spec import SERVICE, Info, ServiceSpec

if TYPE_CHECKING:
    from gatt.bumble_backend.central import BumbleCentral
    from gatt.bumble_backend.peripheral import BumblePeripheral

__all__ = ["DEFAULT_RSSI", "TransportHost", "VirtualHost", "VirtualRadio", "loop_radio"]

DEFAULT_RSSI = -50
"""dBm reported for an advertiser the radio holds no RSSI for (Bumble's own fixed value)."""


class LateAnswerHost(Host):
    """Bumble's Host, dropping a controller's answer to a command whose waiter is gone.

    When the task waiting on an HCI command is cancelled (a link or a kiosk closing), Bumble
    0.0.236 leaves the cancelled future in place until the task next runs; an answer that
    arrives in between made ``set_result`` raise ``InvalidStateError`` inside the event loop's
    callback, which killed the loop's other work. The command's own ``finally`` clears the
    state, so the late answer is simply dropped here.
    """

    def on_command_processed(self, event: Any) -> None:
        pending = self.pending_response
        if pending is not None and pending.done():
            return
        super().on_command_processed(event)


class VirtualRadio:
    """An in-process radio (a Bumble LocalLink) that devices opened on it share.

    ``local_link`` lets a benchmark pass a LocalLink subclass that counts PDUs.
    """

    def __init__(self, local_link: LocalLink | None = None) -> None:
        self.local_link = local_link or LocalLink()  # type: ignore[no-untyped-call]
        self._opened = 0
        # Keyed by the host opener (stable across address rotations), read per report.
        self._rssi: dict[VirtualHost, int] = {}

    def _next_name(self) -> str:
        self._opened += 1
        return f"V{self._opened}"

    def open_peripheral(
        self,
        *,
        info: Info,
        spec: ServiceSpec = SERVICE,
        options: LinkOptions | None = None,
        rssi: int | None = None,
    ) -> BumblePeripheral:
        """An unstarted peripheral on this radio (use with ``async with``); every listener
        on this radio hears its advertisements at ``rssi`` dBm (:data:`DEFAULT_RSSI` if None)."""
        from gatt.bumble_backend.peripheral import BumblePeripheral

        host = VirtualHost(self)
        if rssi is not None:
            self._rssi[host] = rssi
        return BumblePeripheral(host=host, spec=spec, info=info, options=options or LinkOptions())

    def set_rssi(self, peripheral: BumblePeripheral, rssi: int) -> None:
        """From now on, listeners hear ``peripheral`` (opened on this radio) at ``rssi`` dBm:
        a customer stepping closer or away."""
        host = peripheral.host
        if not isinstance(host, VirtualHost) or host.radio is not self:
            raise ValueError("that peripheral is not on this radio")
        self._rssi[host] = rssi

    def rssi_of(self, address: hci.Address) -> int:
        """The RSSI listeners hear the device at ``address`` with."""
        controller = self.local_link.find_le_controller(address)
        for host, rssi in self._rssi.items():
            if controller is not None and host.controller is controller:
                return rssi
        return DEFAULT_RSSI

    def open_central(
        self, *, spec: ServiceSpec = SERVICE, options: LinkOptions | None = None
    ) -> BumbleCentral:
        """An unstarted central on this radio (use with ``async with``)."""
        from gatt.bumble_backend.central import BumbleCentral

        return BumbleCentral(host=VirtualHost(self), spec=spec, options=options or LinkOptions())


_RADIO: RunVar[VirtualRadio] = RunVar("gatt.bumble_backend.radio")


def loop_radio() -> VirtualRadio:
    """The virtual radio of the running event loop (made on first use)."""
    try:
        return _RADIO.get()
    except LookupError:
        radio = VirtualRadio()
        _RADIO.set(radio)
        return radio


class _RadioController(Controller):
    """A Bumble controller that reports advertisements at the RSSI its radio assigns."""

    def __init__(self, name: str, *, radio: VirtualRadio) -> None:
        super().__init__(name, link=radio.local_link)
        self._radio = radio

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        rssi = self._radio.rssi_of
        if isinstance(packet, hci.HCI_LE_Advertising_Report_Event):
            packet = hci.HCI_LE_Advertising_Report_Event(
                [dataclasses.replace(r, rssi=rssi(r.address)) for r in packet.reports]
            )
        elif isinstance(packet, hci.HCI_LE_Extended_Advertising_Report_Event):
            packet = hci.HCI_LE_Extended_Advertising_Report_Event(
                [dataclasses.replace(r, rssi=rssi(r.address)) for r in packet.reports]
            )
        super().send_hci_packet(packet)


class VirtualHost(HostOpener):
    """A controller on a virtual radio (the event loop's own if ``radio`` is None)."""

    def __init__(self, radio: VirtualRadio | None) -> None:
        self._radio = radio
        self._controller: Controller | None = None
        self._device: Device | None = None

    @property
    def radio(self) -> VirtualRadio | None:
        """The radio given at construction (None: the event loop's, chosen at open)."""
        return self._radio

    @property
    def controller(self) -> Controller | None:
        """The controller while open."""
        return self._controller

    async def open(self) -> Device:
        radio = self._radio or loop_radio()
        controller = _RadioController(radio._next_name(), radio=radio)
        self._controller = controller
        host: Any = LateAnswerHost(controller, AsyncPipeSink(controller))
        self._device = new_device(host)
        return self._device

    async def close(self) -> None:
        device, controller = self._device, self._controller
        self._device = self._controller = None
        if device is not None:
            with closing():
                await device.power_off()
        if controller is not None and controller in controller.link.controllers:
            controller.link.remove_controller(controller)


class TransportHost(HostOpener):
    """A Bumble host over a transport string such as ``usb:0`` or ``tcp-client:host:port``.

    A transport that closes under an open host (a TCP controller stopped, a dongle pulled)
    is reported by :meth:`lost` and to :meth:`on_lost` listeners; ``close`` then only
    releases the transport (powering off would wait for HCI answers that never come).
    """

    def __init__(self, transport: str) -> None:
        self._name = transport
        self._transport: Any = None
        self._device: Device | None = None
        self._listeners: set[Callable[[], None]] = set()

    async def open(self) -> Device:
        with opening(f"bumble transport {self._name}"):
            self._transport = await open_transport(self._name)
        self._transport.source.terminated.add_done_callback(self._terminated)
        self._device = new_device(LateAnswerHost(self._transport.source, self._transport.sink))
        return self._device

    def _terminated(self, _: object) -> None:
        for callback in list(self._listeners):
            callback()

    def lost(self) -> str | None:
        transport = self._transport
        if transport is not None and transport.source.terminated.done():
            return f"bumble transport {self._name} lost"
        return None

    def on_lost(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._listeners.add(callback)
        return lambda: self._listeners.discard(callback)

    async def close(self) -> None:
        device, transport = self._device, self._transport
        lost = self.lost()
        self._device = self._transport = None
        self._listeners.clear()
        try:
            if device is not None and lost is None:
                with closing():
                    await device.power_off()
        finally:
            if transport is not None:
                await transport.close()
