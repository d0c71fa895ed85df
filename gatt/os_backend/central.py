"""The os central: bleak scanning for and connecting to a p2ppay peripheral.

Set-up order (``gatt.link``): connect (retried while BlueZ fails transiently), learn the real
ATT MTU, check the service, read Info, subscribe to State and Server2Client, and only then
write START (carrying the MTU, :func:`gatt.spec.encode_start`): as a Write Command when State
declares write without response (profile 2), else with response (profile 1). An empty
Server2Client notification is END too (profile 2), though with State subscribed a peripheral
sends END there.

Sharp edges handled here:
- bleak on BlueZ reports ``mtu_size`` 23 until the MTU is acquired: the BlueZ backend's
  ``_acquire_mtu()`` is called once after connecting, as bleak's documentation prescribes.
- Notifications are subscribed before the first write, and both notification callbacks feed
  one ordered :class:`~gatt._mailbox.ThreadSafeMailbox` (State END closes it after the chunks
  before it).
- Transient connect failures are retried (:func:`gatt.os_backend.retry.connect_with_retry`);
  bleak itself is never patched.
- Adapter names are exact: bleak resolves ``hciN`` to ``/org/bluez/hciN``.
- BlueZ's GATT server refuses written values above 510 bytes, so every central's
  ``max_chunk`` is ``gatt.spec.max_write_chunk(att_mtu) = min(att_mtu - 3, 510)``.

Known limit: BlueZ's EATT (several ATT bearers, on by default) spreads consecutive
notifications and write commands over its channels, and the receiver can get them out of order
(seen in the test-bed VM). The Link's order promise holds on BlueZ only with ``[GATT]
Channels = 1`` in main.conf (tests/bluez/bluetoothd.conf); the protocol's framing numbers its
chunks, so a reordering is caught there as a typed error, never a wrong message.

Invariants: every bleak / D-Bus exception leaves this module as a :mod:`gatt.errors` type;
``send`` never waits for an ATT response unless ``options.write_with_response``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from gatt._mailbox import ThreadSafeMailbox
from gatt.errors import (
    AdapterUnavailable,
    ConnectFailed,
    LinkTimeout,
    ServiceMismatch,
)
from gatt.link import Central, Link, LinkOptions, PeerInfo, ScanResult
from gatt.os_backend._link import OsLink
from gatt.os_backend.names import stack_adapter
from gatt.os_backend.retry import connect_with_retry
from gatt.spec import (
    END_NOTIFICATION,
    Info,
    Role,
    ServiceSpec,
    StateValue,
    encode_start,
    is_end,
    max_write_chunk,
    tag_from_local_name,
)

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.args.bluez import BlueZClientArgs, BlueZScannerArgs
    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

__all__ = ["CONNECT_ATTEMPTS", "BleakCentral", "BleakLink"]

CONNECT_ATTEMPTS = 4
"""Connection attempts before ``connect`` gives up on a transient BlueZ failure (all within
``options.connect_timeout``). In the loaded test-bed VM the BlueZ race hit up to 5 attempts in 7;
on an idle one about 1 in 9."""
DISCONNECT_TIMEOUT = 5.0
"""Seconds ``aclose`` waits for bleak's disconnect."""

_log = logging.getLogger(__name__)


def _is_transient(error: BaseException) -> bool:
    from bleak.exc import BleakDBusError, BleakError

    # bleak raises BleakError / BleakDBusError / TimeoutError for the BlueZ races; a missing
    # service is not transient and is raised as ServiceMismatch before reaching here.
    return isinstance(error, BleakError | BleakDBusError | TimeoutError | EOFError)


class BleakLink(OsLink):
    """The central's end of one session."""

    def __init__(
        self,
        client: BleakClient,
        inbox: ThreadSafeMailbox[bytes],
        *,
        chars: dict[Role, BleakGATTCharacteristic],
        peer: PeerInfo,
        options: LinkOptions,
    ) -> None:
        # The peer may be a BlueZ GATT server: never write more than it accepts.
        super().__init__(inbox, peer=peer, max_chunk=max_write_chunk(peer.att_mtu))
        self._client = client
        self._chars = chars
        self._options = options
        self._disconnect: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        # bleak may know of a disconnection before its callback's close reaches the mailbox.
        return super().closed or not self._client.is_connected

    async def _put_on_air(self, chunk: bytes) -> None:
        try:
            async with asyncio.timeout(self._options.response_timeout):
                await self._client.write_gatt_char(
                    self._chars[Role.CLIENT2SERVER],
                    chunk,
                    response=self._options.write_with_response,
                )
        except TimeoutError as error:
            raise LinkTimeout("write to Client2Server timed out") from error

    async def _end(self, *, tell_peer: bool) -> None:
        if not tell_peer or not self._client.is_connected:
            return
        try:
            async with asyncio.timeout(self._options.response_timeout):
                await self._client.write_gatt_char(
                    self._chars[Role.STATE], bytes([StateValue.END]), response=True
                )
        except Exception as error:  # best effort: the peripheral may be gone already
            _log.debug("END not delivered: %r", error)

    async def _release(self) -> None:
        await self._ensure_disconnected()

    async def _wait_released(self) -> None:
        if self._disconnect is not None:
            await asyncio.gather(self._disconnect, return_exceptions=True)

    def peer_ended(self) -> None:
        """State END arrived: close after the chunks before it, then drop the connection."""
        self._inbox.close("the peripheral ended the session")
        if self._disconnect is None:
            self._disconnect = asyncio.get_running_loop().create_task(self._ensure_disconnected())

    async def _ensure_disconnected(self) -> None:
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT):
                await self._client.disconnect()
        except Exception as error:
            _log.debug("disconnect: %r", error)


class BleakCentral(Central):
    """bleak on the OS stack (``os``) or on one BlueZ adapter (``hciN``)."""

    def __init__(self, adapter: str, *, spec: ServiceSpec, options: LinkOptions) -> None:
        self._adapter = stack_adapter(adapter)
        self._spec = spec
        self._options = options
        self._links: list[BleakLink] = []
        self._started = False

    def _bluez_args(self) -> BlueZClientArgs:
        return {} if self._adapter is None else {"adapter": self._adapter}

    def _scanner_args(self) -> BlueZScannerArgs:
        return {} if self._adapter is None else {"adapter": self._adapter}

    async def start(self) -> None:
        if self._adapter is not None:
            from gatt.os_backend.bluez import require_adapter

            await require_adapter(self._adapter)
        self._started = True

    async def aclose(self) -> None:
        links, self._links = self._links, []
        for link in links:
            await link.aclose()
        self._started = False

    def scan(self) -> AbstractAsyncContextManager[AsyncIterator[ScanResult]]:
        return self._scan()

    @asynccontextmanager
    async def _scan(self) -> AsyncIterator[AsyncIterator[ScanResult]]:
        from bleak import BleakScanner
        from bleak.exc import BleakError

        found: asyncio.Queue[ScanResult] = asyncio.Queue()

        def on_advertisement(device: BLEDevice, advertisement: AdvertisementData) -> None:
            name = advertisement.local_name or device.name
            tag = tag_from_local_name(name)
            if tag is None or name is None:
                return
            found.put_nowait(
                ScanResult(
                    address=device.address,
                    tag=tag,
                    rssi=advertisement.rssi,
                    name=name,
                    handle=device,
                )
            )

        async def results() -> AsyncIterator[ScanResult]:
            while True:
                yield await found.get()

        scanner = BleakScanner(
            detection_callback=on_advertisement,
            service_uuids=[str(self._spec.uuid)],
            bluez=self._scanner_args(),
        )
        try:
            await scanner.start()
        except (BleakError, OSError) as error:
            raise AdapterUnavailable(f"cannot scan on {self._adapter or 'os'}: {error}") from error
        try:
            yield results()
        finally:
            try:
                await scanner.stop()
            except Exception as error:
                _log.debug("scanner stop: %r", error)

    async def connect(self, result: ScanResult) -> Link:
        try:
            async with asyncio.timeout(self._options.connect_timeout):
                link = await connect_with_retry(
                    lambda: self._connect_once(result),
                    is_transient=_is_transient,
                    attempts=CONNECT_ATTEMPTS,
                )
        except TimeoutError as error:
            raise LinkTimeout(f"connect to {result.address} timed out") from error
        except (ServiceMismatch, ConnectFailed):
            raise
        except Exception as error:
            raise ConnectFailed(f"connect to {result.address} failed: {error!r}") from error
        self._links.append(link)
        return link

    async def _connect_once(self, result: ScanResult) -> BleakLink:
        from bleak import BleakClient

        loop = asyncio.get_running_loop()
        inbox: ThreadSafeMailbox[bytes] = ThreadSafeMailbox(loop)
        holder: list[BleakLink] = []

        def on_disconnect(_: BleakClient) -> None:
            inbox.feed_close("the peripheral disconnected")

        client = BleakClient(
            _device(result),
            disconnected_callback=on_disconnect,
            timeout=self._options.connect_timeout,
            bluez=self._bluez_args(),
        )
        try:
            await client.connect()
        except BaseException:
            await asyncio.shield(self._drop_stale_connection(result))
            raise
        try:
            chars = self._characteristics(client)
            att_mtu = await _acquire_att_mtu(client)
            info = await self._read_info(client, chars[Role.INFO])

            def on_state(_: BleakGATTCharacteristic, data: bytearray) -> None:
                if is_end(bytes(data)) and holder:
                    # Through the loop, so END lands after the chunks notified before it.
                    loop.call_soon_threadsafe(holder[0].peer_ended)

            def on_server2client(_: BleakGATTCharacteristic, data: bytearray) -> None:
                if bytes(data) == END_NOTIFICATION:
                    if holder:
                        loop.call_soon_threadsafe(holder[0].peer_ended)
                else:
                    inbox.feed(bytes(data))

            # Both subscriptions (the profile allows it; BlueZ has discovered everything
            # anyway), so END comes on State from a peripheral of either profile version.
            await client.start_notify(chars[Role.STATE], on_state)
            await client.start_notify(chars[Role.SERVER2CLIENT], on_server2client)
            peer = PeerInfo(address=result.address, att_mtu=att_mtu, tag=result.tag, info=info)
            link = BleakLink(client, inbox, chars=chars, peer=peer, options=self._options)
            holder.append(link)
            # Profile 2: START as a Write Command (no round trip); profile 1: with response.
            by_command = "write-without-response" in chars[Role.STATE].properties
            await client.write_gatt_char(
                chars[Role.STATE], encode_start(att_mtu), response=not by_command
            )
        except BaseException:
            await asyncio.shield(_quiet_disconnect(client))
            raise
        return link

    async def _drop_stale_connection(self, result: ScanResult) -> None:
        # Part of the documented retry: see gatt.os_backend.bluez.disconnect_device.
        details = getattr(result.handle, "details", None)
        if sys.platform != "linux" or not isinstance(details, dict) or "path" not in details:
            return
        from gatt.os_backend.bluez import disconnect_device

        _log.info("dropping BlueZ's connection to %s before retrying", result.address)
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT):
                await disconnect_device(str(details["path"]))
        except Exception as error:
            _log.info("dropping a stale BlueZ connection failed: %r", error)

    def _characteristics(self, client: BleakClient) -> dict[Role, BleakGATTCharacteristic]:
        service = client.services.get_service(str(self._spec.uuid))
        if service is None:
            raise ServiceMismatch("the peer has no p2ppay service")
        chars: dict[Role, BleakGATTCharacteristic] = {}
        for spec in self._spec.characteristics:
            characteristic = service.get_characteristic(str(spec.uuid))
            if characteristic is None:
                raise ServiceMismatch(f"the peer's service lacks {spec.role.value}")
            chars[spec.role] = characteristic
        return chars

    async def _read_info(
        self, client: BleakClient, characteristic: BleakGATTCharacteristic
    ) -> Info:
        data = await client.read_gatt_char(characteristic)
        try:
            return Info.decode(bytes(data))
        except ValueError as error:
            raise ServiceMismatch(f"malformed Info: {error}") from error


def _device(result: ScanResult) -> BLEDevice | str:
    """What BleakClient connects to: the scanned BLEDevice (BlueZ needs its D-Bus path)."""
    from bleak.backends.device import BLEDevice

    return result.handle if isinstance(result.handle, BLEDevice) else result.address


async def _acquire_att_mtu(client: BleakClient) -> int:
    """The ATT MTU in force. bleak's BlueZ backend reports 23 until ``_acquire_mtu()`` (its
    documented way to learn the exchanged MTU); other backends know it after connecting."""
    if sys.platform == "linux":
        from bleak.backends.bluezdbus.client import BleakClientBlueZDBus

        backend: Any = client._backend
        if isinstance(backend, BleakClientBlueZDBus):
            await backend._acquire_mtu()
    return int(client.mtu_size)


async def _quiet_disconnect(client: BleakClient) -> None:
    try:
        async with asyncio.timeout(DISCONNECT_TIMEOUT):
            await client.disconnect()
    except Exception as error:
        _log.debug("disconnect after failed set-up: %r", error)
