"""Where a Bumble device's controller lives: the in-process virtual radio, or a transport.

- :class:`VirtualRadio`: a Bumble ``LocalLink`` shared by every device opened on it in one
  event loop; the ``virtual`` adapter uses one radio per event loop (an anyio ``RunVar``), so
  a payer and a payee opened with ``virtual`` in the same loop hear each other, and two
  tests (two loops) never do. Tests and the demo may also make their own radio and open
  both roles on it (``radio.open_peripheral(...)``, ``radio.open_central(...)``).
- :class:`TransportHost`: a Bumble host on any Bumble transport string (``usb:0``,
  ``tcp-client:127.0.0.1:9101``, ``serial:/dev/ttyACM0``, ``hci-socket:0``...), opened when
  the role starts and closed when it stops.

Invariant: each opener owns exactly the controller or transport it opened and releases it
in ``close``, so a role can be opened and closed in a loop without leaking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anyio.lowlevel import RunVar
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from gatt.bumble_backend._common import HostOpener, new_device, opening
from gatt.link import LinkOptions
from gatt.spec import SERVICE, Info, ServiceSpec

if TYPE_CHECKING:
    from gatt.bumble_backend.central import BumbleCentral
    from gatt.bumble_backend.peripheral import BumblePeripheral

__all__ = ["TransportHost", "VirtualHost", "VirtualRadio", "loop_radio"]


class VirtualRadio:
    """An in-process radio (a Bumble LocalLink) that devices opened on it share.

    ``local_link`` lets a benchmark pass a LocalLink subclass that counts PDUs.
    """

    def __init__(self, local_link: LocalLink | None = None) -> None:
        self.local_link = local_link or LocalLink()  # type: ignore[no-untyped-call]
        self._opened = 0

    def _next_name(self) -> str:
        self._opened += 1
        return f"V{self._opened}"

    def open_peripheral(
        self, *, info: Info, spec: ServiceSpec = SERVICE, options: LinkOptions | None = None
    ) -> BumblePeripheral:
        """An unstarted peripheral on this radio (use with ``async with``)."""
        from gatt.bumble_backend.peripheral import BumblePeripheral

        return BumblePeripheral(
            host=VirtualHost(self), spec=spec, info=info, options=options or LinkOptions()
        )

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


class VirtualHost(HostOpener):
    """A controller on a virtual radio (the event loop's own if ``radio`` is None)."""

    def __init__(self, radio: VirtualRadio | None) -> None:
        self._radio = radio
        self._controller: Controller | None = None
        self._device: Device | None = None

    async def open(self) -> Device:
        radio = self._radio or loop_radio()
        controller = Controller(radio._next_name(), link=radio.local_link)
        self._controller = controller
        host: Any = Host(controller, AsyncPipeSink(controller))
        self._device = new_device(host)
        return self._device

    async def close(self) -> None:
        device, controller = self._device, self._controller
        self._device = self._controller = None
        if device is not None:
            await device.power_off()
        if controller is not None and controller in controller.link.controllers:
            controller.link.remove_controller(controller)


class TransportHost(HostOpener):
    """A Bumble host over a transport string such as ``usb:0`` or ``tcp-client:host:port``."""

    def __init__(self, transport: str) -> None:
        self._name = transport
        self._transport: Any = None
        self._device: Device | None = None

    async def open(self) -> Device:
        with opening(f"bumble transport {self._name}"):
            self._transport = await open_transport(self._name)
        self._device = new_device(Host(self._transport.source, self._transport.sink))
        return self._device

    async def close(self) -> None:
        device, transport = self._device, self._transport
        self._device = self._transport = None
        try:
            if device is not None:
                await device.power_off()
        finally:
            if transport is not None:
                await transport.close()
