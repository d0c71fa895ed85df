"""The Bumble central: scan for our service, connect, and set a session up.

Invariants:
- Scan results are only advertisements that list our service UUID and carry a tagged local
  name; the address in a result is the handle ``connect`` dials, nothing else is kept.
- ``connect`` does the set-up in the order of :mod:`gatt.link` (MTU, discovery, Info,
  subscribe, then START carrying the ATT MTU), so the first chunk the peripheral notifies is
  never lost; any failure disconnects before raising. Discovery asks only what the profile
  needs (:mod:`gatt.bumble_backend._discovery`). With a profile-2 peripheral it subscribes
  to Server2Client only (END comes as an empty notification) and writes START as a Write
  Command; with a profile-1 peripheral it also subscribes to State and writes START with
  response. A whole set-up is then 5 ATT round trips (MTU, service, characteristics, Info,
  CCCD) and START rides with the first chunk.
- A host whose transport went away (``HostOpener.lost``) makes ``scan`` and ``connect``
  raise AdapterUnavailable at once, and ends a running scan's iterator with it, instead of
  waiting on HCI commands Bumble will never answer.
- Client2Server chunks go as ATT Write Commands (no round trip) unless
  ``options.write_with_response``; Bumble sends one ATT PDU per chunk because a chunk never
  exceeds ``att_mtu - 3``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress

import anyio
from bumble import core, hci
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import Client

from gatt._mailbox import Mailbox, MailboxClosed
from gatt.bumble_backend._common import (
    HostOpener,
    TaskSet,
    closing,
    hci_step,
    opening,
    rotate_address,
    tag_of,
)
from gatt.bumble_backend._discovery import Found, find_cccd, find_characteristics, find_service
from gatt.bumble_backend._link import CLOSE_TIMEOUT, BumbleLink
from gatt.errors import (
    AdapterUnavailable,
    ConnectFailed,
    LinkClosed,
    LinkTimeout,
    ServiceMismatch,
)
from gatt.link import Central, Link, LinkOptions, ScanResult
from gatt.spec import (
    ATT_MTU_DEFAULT,
    END_NOTIFICATION,
    Info,
    Role,
    ServiceSpec,
    StateValue,
    encode_start,
    is_end,
    local_name_for,
    max_write_chunk,
    starts_by_command,
)

__all__ = ["BumbleCentral"]

_NOTIFY = bytes([0x01, 0x00])
"""CCCD value: notifications on (Core Vol 3 Part G 3.3.3.3)."""


class _CentralLink(BumbleLink):
    def __init__(
        self,
        *,
        client: Client,
        characteristics: dict[Role, Found],
        with_response: bool,
        response_timeout: float,
        connection: Connection,
        tag: str,
        info: Info,
        tasks: TaskSet,
    ) -> None:
        super().__init__(connection=connection, tag=tag, info=info, tasks=tasks)
        self._gatt = client
        self._client2server = characteristics[Role.CLIENT2SERVER].value_handle
        self._state = characteristics[Role.STATE].value_handle
        self._with_response = with_response
        self._response_timeout = response_timeout

    @property
    def max_chunk(self) -> int:
        # A central's chunks are writes: keep under BlueZ's 510-byte write limit.
        return max_write_chunk(self._connection.att_mtu)

    def on_state(self, value: bytes) -> None:
        """State notification from the peripheral (profile 1 peripherals end there)."""
        if is_end(value):
            self.peer_ended()

    def on_server2client(self, value: bytes) -> None:
        """Server2Client notification: a chunk, or END as an empty one (profile 2)."""
        if value == END_NOTIFICATION:
            self.peer_ended()
        else:
            self.deliver(value)

    async def _transmit(self, chunk: bytes) -> None:
        if not self._with_response:
            await self._gatt.write_value(self._client2server, chunk, with_response=False)
            return
        try:
            with anyio.fail_after(self._response_timeout):
                await self._gatt.write_value(self._client2server, chunk, with_response=True)
        except TimeoutError as error:
            raise LinkTimeout(f"no write response within {self._response_timeout}s") from error

    async def _say_end(self) -> None:
        await self._gatt.write_value(self._state, bytes([StateValue.END]), with_response=False)


class _Results:
    """Async iterator over a scan's results; ends when the scan stops, and raises
    AdapterUnavailable if the host's transport goes away meanwhile."""

    def __init__(self, inbox: Mailbox[ScanResult], host: HostOpener) -> None:
        self._inbox = inbox
        self._host = host

    def __aiter__(self) -> _Results:
        return self

    async def __anext__(self) -> ScanResult:
        try:
            return await self._inbox.get()
        except MailboxClosed:
            lost = self._host.lost()
            if lost is not None:
                raise AdapterUnavailable(lost) from None
            raise StopAsyncIteration from None


class BumbleCentral(Central):
    """A central on a Bumble device; see :class:`gatt.link.Central`."""

    def __init__(self, *, host: HostOpener, spec: ServiceSpec, options: LinkOptions) -> None:
        self._host = host
        self._spec = spec
        self._options = options
        self._device: Device | None = None
        self._tasks = TaskSet()
        self._links: list[_CentralLink] = []

    @property
    def device(self) -> Device:
        """The Bumble device (for tests and benchmarks that need to look under the hood)."""
        if self._device is None:
            raise RuntimeError("central not started")
        return self._device

    async def start(self) -> None:
        try:
            with opening("open central"):
                self._device = await self._host.open()
                await self._device.power_on()
        except BaseException:
            # ``async with`` does not call aclose when entering fails: release what opened.
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise

    async def aclose(self) -> None:
        for link in self._links:
            await link.aclose()
        self._links.clear()
        device = self._device
        if device is not None:
            with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await self._tasks.close()
            if device.is_scanning and self._host.lost() is None:
                with closing():
                    await device.stop_scanning()
        self._device = None
        await self._host.close()

    def scan(self) -> AbstractAsyncContextManager[AsyncIterator[ScanResult]]:
        return self._scan()

    @asynccontextmanager
    async def _scan(self) -> AsyncIterator[AsyncIterator[ScanResult]]:
        device = self.device
        inbox: Mailbox[ScanResult] = Mailbox()

        def on_advertisement(advertisement: Advertisement) -> None:
            tag = tag_of(advertisement, self._spec)
            if tag is None or not advertisement.is_connectable:
                return
            inbox.put(
                ScanResult(
                    address=advertisement.address.to_string(with_type_qualifier=False),
                    tag=tag,
                    rssi=advertisement.rssi,
                    name=local_name_for(tag),
                    handle=advertisement.address,
                )
            )

        self._check_host()
        device.on(device.EVENT_ADVERTISEMENT, on_advertisement)
        unsubscribe = self._host.on_lost(inbox.close)
        try:
            with opening("start scanning"):
                await device.start_scanning(active=True, filter_duplicates=False)
            yield _Results(inbox, self._host)
        finally:
            unsubscribe()
            device.remove_listener(device.EVENT_ADVERTISEMENT, on_advertisement)
            inbox.close()
            if device.is_scanning and self._host.lost() is None:
                with closing():
                    await device.stop_scanning()

    def _check_host(self) -> None:
        lost = self._host.lost()
        if lost is not None:
            raise AdapterUnavailable(lost)

    async def connect(self, result: ScanResult) -> Link:
        device = self.device
        address = result.handle
        if not isinstance(address, hci.Address):
            raise ConnectFailed("not a Bumble scan result")
        self._check_host()
        if device.is_scanning:
            with hci_step("stop scanning"):
                await device.stop_scanning()
        try:
            with anyio.fail_after(self._options.connect_timeout):
                link = await self._connect(device, address, result.tag)
        except TimeoutError as error:
            raise LinkTimeout(f"connect to {result.address}") from error
        self._links = [old for old in self._links if not old.closed]
        self._links.append(link)
        return link

    async def _connect(self, device: Device, address: hci.Address, tag: str) -> _CentralLink:
        with hci_step("connect"):
            await rotate_address(device)
        try:
            connection = await device.connect(
                address,
                own_address_type=hci.OwnAddressType.RANDOM,
                timeout=self._options.connect_timeout,
            )
        except core.TimeoutError as error:
            raise LinkTimeout(f"connect to {address}") from error
        except core.BaseBumbleError as error:
            raise ConnectFailed(f"connect to {address}: {error}") from error
        try:
            return await self._set_up(connection, tag)
        except BaseException:
            with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                with suppress(core.BaseBumbleError, asyncio.CancelledError):
                    await connection.disconnect()
            raise

    async def _set_up(self, connection: Connection, tag: str) -> _CentralLink:
        client = Peer(connection).gatt_client
        try:
            if self._options.max_att_mtu > ATT_MTU_DEFAULT:
                await client.request_mtu(self._options.max_att_mtu)
            service = await find_service(client, self._spec)
            characteristics = await find_characteristics(client, self._spec, service)
            try:
                value = await client.read_value(
                    characteristics[Role.INFO].value_handle, no_long_read=True
                )
                info = Info.decode(value)
            except ValueError as error:
                raise ServiceMismatch(f"bad Info: {error}") from error
            link = _CentralLink(
                client=client,
                characteristics=characteristics,
                with_response=self._options.write_with_response,
                response_timeout=self._options.response_timeout,
                connection=connection,
                tag=tag,
                info=info,
                tasks=self._tasks,
            )
            # Subscribe before START: the peripheral may notify as soon as START lands.
            # Profile 2 (State takes Write Commands): one subscription, END comes as an
            # empty Server2Client notification, START goes without a round trip. Profile 1:
            # subscribe to State for END, and write START with response.
            by_command = starts_by_command(characteristics[Role.STATE].properties)
            subscriptions = [(Role.SERVER2CLIENT, link.on_server2client)]
            if not by_command:
                subscriptions.append((Role.STATE, link.on_state))
            for role, callback in subscriptions:
                found = characteristics[role]
                cccd = await find_cccd(client, found)
                client.notification_subscribers.setdefault(found.value_handle, set()).add(callback)
                await client.write_value(cccd, _NOTIFY, with_response=True)
            await client.write_value(
                characteristics[Role.STATE].value_handle,
                encode_start(connection.att_mtu),
                with_response=not by_command,
            )
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise ConnectFailed("connection lost during set-up") from None
        except core.BaseBumbleError as error:
            raise ConnectFailed(f"set-up failed: {error}") from error
        if link.closed:
            raise LinkClosed("connection lost right after set-up")
        return link
