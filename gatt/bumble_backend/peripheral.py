"""The Bumble peripheral: our GATT service on a Bumble device, one central at a time.

Invariants:
- The service is built from the :class:`~gatt.spec.ServiceSpec` alone (UUIDs, properties,
  permissions); Info is readable by any connected central before anything else.
- A session's Link exists from the central's State START write on that connection; writes
  to Client2Server from any other connection are ignored, and a central that connects
  while a Link is open, or outside ``accept``, is disconnected.
- Advertising runs only inside ``accept``; it restarts there at once if a central connects
  and leaves without starting a session, and it stops before ``accept`` returns.
- A central has ``options.start_timeout`` from connecting to START; then it is dropped and
  its address struck. A central whose address is banned (:class:`~gatt.backoff.BackOff`)
  is disconnected as soon as it connects, and struck again.
- END goes where the central listens: on State if it subscribed to State (profile 1), else as
  an empty Server2Client notification (profile 2); START is accepted as a Write Request or a
  Write Command alike.
- Client2Server writes reach the Link synchronously in arrival order: Bumble runs one task
  per write, tasks start in creation order, and our write callback never awaits.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from bumble import att, gatt
from bumble.core import UUID
from bumble.device import Connection, Device

from gatt._mailbox import Mailbox
from gatt.backoff import BackOff
from gatt.bumble_backend._common import (
    ADVERTISING_INTERVAL_MS,
    HostOpener,
    TaskSet,
    advertising_data,
    closing,
    hci_step,
    opening,
    rotate_address,
)
from gatt.bumble_backend._link import BumbleLink
from gatt.link import Link, LinkOptions, PeerInfo, Peripheral
from gatt.spec import (
    END_NOTIFICATION,
    CharacteristicSpec,
    Info,
    Permissions,
    Properties,
    Role,
    ServiceSpec,
    StateValue,
    decode_start,
    is_end,
    max_chunk,
)

__all__ = ["BumblePeripheral"]

_NOTIFICATIONS_ON = 0x01
"""CCCD bit 0: notifications enabled (Core Vol 3 Part G 3.3.3.3)."""

_PROPERTIES = {
    Properties.READ: gatt.Characteristic.Properties.READ,
    Properties.WRITE_WITHOUT_RESPONSE: gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    Properties.WRITE: gatt.Characteristic.Properties.WRITE,
    Properties.NOTIFY: gatt.Characteristic.Properties.NOTIFY,
}
_PERMISSIONS = {
    Permissions.READABLE: att.Attribute.Permissions.READABLE,
    Permissions.WRITEABLE: att.Attribute.Permissions.WRITEABLE,
}


def _bumble_properties(spec: CharacteristicSpec) -> gatt.Characteristic.Properties:
    result = gatt.Characteristic.Properties(0)
    for ours, theirs in _PROPERTIES.items():
        if ours in spec.properties:
            result |= theirs
    return result


def _bumble_permissions(spec: CharacteristicSpec) -> att.Attribute.Permissions:
    result = att.Attribute.Permissions(0)
    for ours, theirs in _PERMISSIONS.items():
        if ours in spec.permissions:
            result |= theirs
    return result


def _address_of(connection: Connection) -> str:
    # The same form as the Link's PeerInfo.address, so ``wasted(link.peer)`` strikes it.
    return str(connection.peer_address.to_string(with_type_qualifier=False))


class _PeripheralLink(BumbleLink):
    def __init__(
        self,
        *,
        device: Device,
        server2client: gatt.Characteristic[Any],
        state: gatt.Characteristic[Any],
        connection: Connection,
        tag: str,
        tasks: TaskSet,
        start_mtu: int,
    ) -> None:
        super().__init__(connection=connection, tag=tag, info=None, tasks=tasks)
        self._start_mtu = start_mtu
        self._device = device
        self._server2client = server2client
        self._state = state

    @property
    def max_chunk(self) -> int:
        # The central's START says which MTU it sizes for (a bare 01: 23); never notify more
        # than it said, even if the link layer exchanged a larger MTU.
        return max_chunk(min(self.connection.att_mtu, self._start_mtu))

    async def _transmit(self, chunk: bytes) -> None:
        await self._device.notify_subscriber(self.connection, self._server2client, chunk)

    async def _say_end(self) -> None:
        # A profile-1 central subscribed to State and hears END there; a profile-2 central
        # subscribed to Server2Client only and hears an empty notification.
        cccd = self._device.gatt_server.read_cccd(self.connection, self._state)
        if cccd[0] & _NOTIFICATIONS_ON:
            await self._device.notify_subscriber(
                self.connection, self._state, bytes([StateValue.END])
            )
        else:
            await self._device.notify_subscriber(
                self.connection, self._server2client, END_NOTIFICATION
            )


class BumblePeripheral(Peripheral):
    """A peripheral on a Bumble device; see :class:`gatt.link.Peripheral`."""

    def __init__(
        self, *, host: HostOpener, spec: ServiceSpec, info: Info, options: LinkOptions
    ) -> None:
        self._host = host
        self._spec = spec
        self._info_value = info.encode()
        self._options = options
        self._device: Device | None = None
        self._characteristics: dict[Role, gatt.Characteristic[Any]] = {}
        self._tasks = TaskSet()
        self._link: _PeripheralLink | None = None
        self._tag = ""
        # Set only while accept() runs: it receives the new Link, or None for "advertise again".
        self._waiting: Mailbox[_PeripheralLink | None] | None = None
        self._pending: dict[int, Connection] = {}
        self._expiry: dict[int, asyncio.TimerHandle] = {}
        self._backoff = BackOff(options.backoff)

    @property
    def device(self) -> Device:
        """The Bumble device (for tests and benchmarks that need to look under the hood)."""
        if self._device is None:
            raise RuntimeError("peripheral not started")
        return self._device

    @property
    def host(self) -> HostOpener:
        """Where its controller lives (``VirtualRadio.set_rssi`` finds the device by it)."""
        return self._host

    def _characteristic(self, spec: CharacteristicSpec) -> gatt.Characteristic[Any]:
        value: gatt.CharacteristicValue[Any] | None = None
        if spec.role is Role.INFO:
            value = gatt.CharacteristicValue(read=lambda _connection: self._info_value)
        elif spec.role is Role.STATE:
            value = gatt.CharacteristicValue(write=self._on_state_write)
        elif spec.role is Role.CLIENT2SERVER:
            value = gatt.CharacteristicValue(write=self._on_client2server_write)
        return gatt.Characteristic(
            UUID(str(spec.uuid)), _bumble_properties(spec), _bumble_permissions(spec), value
        )

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # ``async with`` does not call aclose when entering fails: release what opened.
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise

    async def _start(self) -> None:
        with opening("open peripheral"):
            device = await self._host.open()
            self._device = device
            self._characteristics = {
                c.role: self._characteristic(c) for c in self._spec.characteristics
            }
            device.add_service(
                gatt.Service(UUID(str(self._spec.uuid)), list(self._characteristics.values()))
            )
            device.gatt_server.max_mtu = self._options.max_att_mtu
            device.on(device.EVENT_CONNECTION, self._on_connection)
            await device.power_on()

    async def aclose(self) -> None:
        if self._link is not None:
            await self._link.aclose()
            self._link = None
        device = self._device
        if device is not None:
            with anyio.move_on_after(2, shield=True):
                for connection in list(self._pending.values()):
                    self._unpend(connection)
                    self._tasks.spawn(connection.disconnect())
                await self._tasks.close()
            if device.is_advertising:
                with closing():
                    await device.stop_advertising()
        self._device = None
        await self._host.close()

    async def accept(self, *, tag: str, same_address: bool = False) -> Link:
        device = self.device
        if self._waiting is not None:
            raise RuntimeError("accept is already running")
        if self._link is not None and not self._link.closed:
            raise RuntimeError("the previous session's Link is still open")
        data = advertising_data(self._spec, tag)
        self._tag = tag
        waiting: Mailbox[_PeripheralLink | None] = Mailbox()
        self._waiting = waiting
        link: _PeripheralLink | None = None
        try:
            if not same_address:
                with hci_step("start advertising"):
                    await rotate_address(device)
            while link is None:
                if not self._pending:
                    with hci_step("start advertising"):
                        await self._advertise(device, data)
                link = await waiting.get()
            return link
        finally:
            self._waiting = None
            waiting.close()
            if device.is_advertising:
                with closing():
                    await device.stop_advertising()
            with anyio.CancelScope(shield=True):
                if link is None and self._link is not None and not self._link.closed:
                    # A session started just as accept was cancelled: nobody will use it.
                    await self._link.aclose()

    async def _advertise(self, device: Device, data: bytes) -> None:
        await device.start_advertising(
            advertising_data=data,
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    def _on_connection(self, connection: Connection) -> None:
        busy = self._link is not None and not self._link.closed
        if busy or self._waiting is None:
            self._tasks.spawn(connection.disconnect())
            return
        address = _address_of(connection)
        if self._backoff.banned(address):
            self._backoff.strike(address)
            self._tasks.spawn(connection.disconnect())
            self._waiting.put(None)  # advertise again now, not once it is gone
            return
        self._pending[connection.handle] = connection
        connection.on(connection.EVENT_DISCONNECTION, lambda *_: self._forget(connection))
        # A central that connects but never starts a session must not hold us for long.
        self._expiry[connection.handle] = asyncio.get_running_loop().call_later(
            self._options.start_timeout, self._expire, connection
        )

    def wasted(self, peer: PeerInfo) -> None:
        self._backoff.strike(peer.address)

    def _unpend(self, connection: Connection) -> bool:
        # True if ``connection`` was waiting to start a session (and is no longer).
        if self._pending.get(connection.handle) is not connection:
            return False
        del self._pending[connection.handle]
        timer = self._expiry.pop(connection.handle, None)
        if timer is not None:
            timer.cancel()
        return True

    def _forget(self, connection: Connection) -> None:
        if self._unpend(connection) and self._waiting:
            self._waiting.put(None)

    def _expire(self, connection: Connection) -> None:
        if self._pending.get(connection.handle) is connection:
            self._backoff.strike(_address_of(connection))
            self._tasks.spawn(connection.disconnect())

    def _on_state_write(self, connection: Connection, value: bytes) -> None:
        # Bumble knows the link's MTU; START says what the central sizes for (bare 01: 23).
        start_mtu = decode_start(value)
        if start_mtu is not None:
            self._start_session(connection, start_mtu)
        elif is_end(value) and self._link is not None and self._link.connection is connection:
            self._link.peer_ended()

    def _start_session(self, connection: Connection, start_mtu: int) -> None:
        if not self._unpend(connection) or self._waiting is None:
            self._tasks.spawn(connection.disconnect())
            return
        link = _PeripheralLink(
            device=self.device,
            server2client=self._characteristics[Role.SERVER2CLIENT],
            state=self._characteristics[Role.STATE],
            connection=connection,
            tag=self._tag,
            tasks=self._tasks,
            start_mtu=start_mtu,
        )
        self._link = link
        self._waiting.put(link)

    def _on_client2server_write(self, connection: Connection, value: bytes) -> None:
        if self._link is not None and self._link.connection is connection:
            self._link.deliver(value)
