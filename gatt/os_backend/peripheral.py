"""The os peripheral: bless serving the p2ppay service, one central at a time.

Flow (``gatt.link`` has the contract): ``start`` registers the service (Info readable at once)
without advertising; ``accept(tag)`` advertises ``local_name_for(tag)`` and returns a Link
when a central writes START; advertising stops then, and resumes only on the next ``accept``.

Sharp edges handled here:
- bless callbacks are synchronous and, on macOS / Windows, run on the stack's threads: every
  callback only reads immutable data or hands over through a
  :class:`~gatt._mailbox.ThreadSafeMailbox` / ``loop.call_soon_threadsafe``.
- bless sees no ATT MTU: the central's START carries it (:func:`gatt.spec.decode_start`).
- bless on BlueZ notifies every subscribed central, and gives no client identity: a START
  while a Link is open is refused (a Write Request fails, so that central's ``connect``
  fails; a START by Write Command, profile 2, cannot be answered, so that central fails at
  its protocol's first deadline instead), and advertising is off while a Link is open. A
  central that subscribed but never started could still see notifications; the layers
  above encrypt and authenticate every message.
- END goes on State if the central subscribed to it (bless lists subscriptions), else as
  an empty Server2Client notification (profile 2).
- bless has no disconnect callback: a central is gone when State END arrives or when BlueZ has
  dropped its subscriptions (``is_connected()`` turns False); a watchdog polls the latter.
- ``update_value`` returning False (CoreBluetooth's full queue) is retried with backoff.
- BlueZ advertises from the adapter's fixed address unless the kernel's LE privacy is on
  (:mod:`gatt.os_backend.privacy`); ``start`` refuses with PublicAddress then, unless
  ``options.allow_public_address``. The advertised name is the session's ``pp<tag>`` (bless
  also sets the adapter's Alias to it); ``aclose`` gives the adapter its Alias back.
- A central must START within ``options.start_timeout`` of connecting: bless reports no
  connection, so the deadline runs from the first GATT access seen (Info read, subscription
  or write) while advertising; a central that misses it is disconnected through bluetoothd.

Invariants: at most one open :class:`BlessLink`; every chunk a central wrote after its START
reaches that Link's ``receive`` in order; the BlueZ-specific calls live in
:mod:`gatt.os_backend.bluez`. Only BlueZ is supported as the peripheral stack for now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from dataclasses import replace
from typing import Any

from gatt._mailbox import ThreadSafeMailbox
from gatt.backoff import BackOff
from gatt.errors import AdapterUnavailable, LinkClosed, PublicAddress
from gatt.link import Link, LinkOptions, PeerInfo, Peripheral
from gatt.os_backend import bluez
from gatt.os_backend._link import OsLink
from gatt.os_backend.names import stack_adapter
from gatt.os_backend.privacy import HOW_TO_ENABLE, adapter_index, privacy_enabled
from gatt.os_backend.retry import notify_with_backoff
from gatt.spec import (
    END_NOTIFICATION,
    NAME_PREFIX,
    Info,
    Permissions,
    Properties,
    Role,
    ServiceSpec,
    StateValue,
    decode_start,
    is_end,
    local_name_for,
    max_chunk,
)

__all__ = ["BlessLink", "BlessPeripheral"]

_log = logging.getLogger(__name__)

WATCHDOG_PERIOD = 0.25
"""Seconds between checks that the central is still subscribed (bless has no disconnect event)."""
END_GRACE = 2.0
"""Seconds ``aclose`` waits for the central to disconnect after State END."""


class _Refused(Exception):
    """Raised from a bless write callback so the stack answers that write with an ATT error."""


def _bless_properties(properties: Properties) -> Any:
    from bless.backends.characteristic import GATTCharacteristicProperties as P

    out = P(0)
    for ours, theirs in (
        (Properties.READ, P.read),
        (Properties.WRITE_WITHOUT_RESPONSE, P.write_without_response),
        (Properties.WRITE, P.write),
        (Properties.NOTIFY, P.notify),
    ):
        if ours in properties:
            out |= theirs
    return out


def _bless_permissions(permissions: Permissions) -> Any:
    from bless.backends.attribute import GATTAttributePermissions as A

    out = A(0)
    if Permissions.READABLE in permissions:
        out |= A.readable
    if Permissions.WRITEABLE in permissions:
        out |= A.writeable
    return out


class BlessLink(OsLink):
    """The peripheral's end of one session: receives Client2Server writes, notifies chunks."""

    def __init__(
        self, owner: BlessPeripheral, inbox: ThreadSafeMailbox[bytes], *, att_mtu: int, tag: str
    ):
        peer = PeerInfo(address="", att_mtu=att_mtu, tag=tag, info=None)
        super().__init__(inbox, peer=peer, max_chunk=max_chunk(att_mtu))
        self._owner = owner

    @property
    def peer(self) -> PeerInfo:
        """The central; ``address`` is the one BlueZ saw connect during ``accept`` (empty if
        that was ambiguous: bless gives no client identity)."""
        return self._peer

    def set_peer_address(self, address: str) -> None:
        """Record the central's address once the peripheral has worked it out."""
        self._peer = replace(self._peer, address=address)

    async def _put_on_air(self, chunk: bytes) -> None:
        await self._owner.notify(Role.SERVER2CLIENT, chunk)

    async def _end(self, *, tell_peer: bool) -> None:
        await self._owner.end_session(self, tell_peer=tell_peer)


class BlessPeripheral(Peripheral):
    """bless on BlueZ (``os`` or ``hciN``) serving ``spec`` with a fixed Info."""

    def __init__(self, adapter: str, *, spec: ServiceSpec, info: Info, options: LinkOptions):
        self._adapter = stack_adapter(adapter)
        self._spec = spec
        self._info = info.encode()
        self._options = options
        self._service = str(spec.uuid)
        self._roles = {c.uuid: c.role for c in spec.characteristics}
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Written by the stack's callback thread, read on the loop: plain references only.
        self._pending: asyncio.Future[BlessLink] | None = None
        self._tag = ""
        self._inbox: ThreadSafeMailbox[bytes] | None = None
        self._link: BlessLink | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._ours: set[str] = set()  # BlueZ paths of centrals that connected during a session
        self._alias: str | None = None  # the adapter's Alias before bless changed it
        self._backoff = BackOff(options.backoff)

    async def start(self) -> None:
        if sys.platform != "linux":
            raise AdapterUnavailable("the os peripheral runs on BlueZ only for now")
        if self._server is not None:
            return
        from bless.backends.bluezdbus.server import BlessServerBlueZDBus

        self._loop = asyncio.get_running_loop()
        server: Any = BlessServerBlueZDBus(name=NAME_PREFIX, loop=self._loop, adapter=self._adapter)
        try:
            await server.setup_task
            if self._adapter is not None:
                await bluez.use_exact_adapter(server, self._adapter)
            await self._require_privacy(str(getattr(server.adapter, "path", "")))
            self._alias = await bluez.adapter_alias(server)
            server.read_request_func = self._on_read
            server.write_request_func = self._on_write
            await server.add_new_service(self._service)
            for characteristic in self._spec.characteristics:
                value = self._info if characteristic.role is Role.INFO else None
                await server.add_new_characteristic(
                    self._service,
                    str(characteristic.uuid),
                    _bless_properties(characteristic.properties),
                    None if value is None else bytearray(value),
                    _bless_permissions(characteristic.permissions),
                )
            await bluez.register_application(server)
        except AdapterUnavailable:
            await _drop_bus(server)
            raise
        except Exception as error:
            await _drop_bus(server)
            raise AdapterUnavailable(
                f"bless could not open {self._adapter or 'os'}: {error}"
            ) from error
        self._server = server

    async def _require_privacy(self, adapter_path: str) -> None:
        """Raise PublicAddress unless BlueZ will advertise from random addresses."""
        if self._options.allow_public_address:
            return
        name = adapter_path.rsplit("/", 1)[-1] or "hci0"
        index = adapter_index(adapter_path)
        private = None if index is None else await asyncio.to_thread(privacy_enabled, index)
        if private is not True:
            state = "off" if private is False else "unknown"
            raise PublicAddress(
                f"{name} would advertise from its fixed address (LE privacy {state}): "
                + HOW_TO_ENABLE.format(name=name)
            )

    async def aclose(self) -> None:
        if self._server is None:
            return
        if self._link is not None:
            await self._link.aclose()  # tells the central END while the server is still up
        server, self._server = self._server, None
        try:
            await bluez.stop_advertising(server)
            if self._alias is not None:
                with contextlib.suppress(Exception):  # best effort: the adapter may be gone
                    await bluez.set_adapter_alias(server, self._alias)
        finally:
            await bluez.unregister_application(server)

    async def accept(self, *, tag: str, same_address: bool = False) -> Link:
        if self._server is None or self._loop is None:
            raise LinkClosed("the peripheral is not started")
        if self._link is not None and not self._link.closed:
            raise LinkClosed("a session is already open; close its Link first")
        local_name = local_name_for(tag)
        # The last central may still be leaving; a controller busy with that connection may
        # not advertise, and BlueZ would notify a lingering subscriber too.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._central_gone(), END_GRACE)
        await self._drop_stale_centrals()
        before = await self._connected()
        pending: asyncio.Future[BlessLink] = self._loop.create_future()
        self._tag, self._pending = tag, pending
        await bluez.start_advertising(self._server, local_name)
        guard = asyncio.create_task(self._drop_centrals_without_start(before, pending))
        try:
            link = await pending
        finally:
            self._pending = None
            guard.cancel()
            await asyncio.gather(guard, return_exceptions=True)
            await bluez.stop_advertising(self._server)
        new = await self._connected() - before
        self._ours |= new
        if len(new) == 1:  # the central that started: its address, for the back-off
            link.set_peer_address(_address_of_path(next(iter(new))))
        self._watchdog = asyncio.create_task(self._watch(link))
        return link

    def wasted(self, peer: PeerInfo) -> None:
        self._backoff.strike(peer.address)

    async def _drop_centrals_without_start(
        self, before: set[str], pending: asyncio.Future[BlessLink]
    ) -> None:
        """While advertising: disconnect a central that has not written START within
        ``start_timeout`` of being seen connected, or whose address is banned (bless reports
        no connections: BlueZ's device list is polled)."""
        loop = asyncio.get_running_loop()
        seen: dict[str, float] = {}
        while not pending.done():
            await asyncio.sleep(WATCHDOG_PERIOD)
            now = loop.time()
            connected = await self._connected() - before
            seen = {path: seen.get(path, now) for path in connected}
            for path, since in seen.items():
                address = _address_of_path(path)
                late = now - since >= self._options.start_timeout
                if pending.done() or not (late or self._backoff.banned(address)):
                    continue
                self._backoff.strike(address)
                _log.info("dropping %s: no START in time, or its address is backing off", path)
                try:
                    async with asyncio.timeout(END_GRACE):
                        await bluez.disconnect_device(path)
                except Exception as error:
                    _log.info("could not drop %s: %r", path, error)

    async def _connected(self) -> set[str]:
        path = str(getattr(self._server.adapter, "path", ""))
        try:
            async with asyncio.timeout(END_GRACE):
                return await bluez.connected_devices(path)
        except Exception as error:
            _log.info("could not list connected devices: %r", error)
            return set()

    async def _drop_stale_centrals(self) -> None:
        """Disconnect the centrals of earlier sessions that are still connected.

        No Link is open here, so such a central is stale (it left without a clean disconnect,
        or bluetoothd lost track of it in its connect race); while it stays connected the
        kernel may not enable connectable advertising, and no central would find the new
        session. Devices that were connected before a session began (the user's keyboard)
        are never touched: bless gives no client identity, so "ours" is whatever connected
        during a session.
        """
        stale = self._ours & await self._connected()
        for path in stale:
            _log.info("dropping stale central %s before advertising", path)
            try:
                async with asyncio.timeout(END_GRACE):
                    await bluez.disconnect_device(path)
            except Exception as error:
                _log.info("could not drop %s: %r", path, error)
        self._ours -= stale

    # --- bless callbacks: synchronous, possibly on another thread --------------------------

    def _on_read(self, characteristic: Any, **_: Any) -> bytearray:
        if self._roles.get(uuid.UUID(str(characteristic.uuid))) is Role.INFO:
            return bytearray(self._info)
        return bytearray(characteristic.value or b"")

    def _on_write(self, characteristic: Any, value: Any, **_: Any) -> None:
        role = self._roles.get(uuid.UUID(str(characteristic.uuid)))
        data = bytes(value)
        if role is Role.CLIENT2SERVER:
            inbox = self._inbox
            if inbox is None:
                _log.debug("dropped a %d-byte write outside a session", len(data))
            else:
                inbox.feed(data)
        elif role is Role.STATE:
            self._on_state(data)

    def _on_state(self, data: bytes) -> None:
        _log.debug("State write %s", data.hex())
        loop = self._loop
        assert loop is not None
        if is_end(data):
            inbox = self._inbox
            if inbox is not None:
                inbox.feed_close("the central ended the session")
            return
        att_mtu = decode_start(data)
        if att_mtu is None:
            raise _Refused(f"unknown State value {data.hex()}")
        if self._pending is None or (self._inbox is not None and not self._inbox.closed):
            # Another central (or a repeated START): refuse, so its connect fails.
            raise _Refused("busy: one central at a time")
        started: ThreadSafeMailbox[bytes] = ThreadSafeMailbox(loop)
        self._inbox = started
        loop.call_soon_threadsafe(self._started, started, att_mtu)

    def _started(self, inbox: ThreadSafeMailbox[bytes], att_mtu: int) -> None:
        link = BlessLink(self, inbox, att_mtu=att_mtu, tag=self._tag)
        self._link = link
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(link)
        else:
            inbox.close("accept was cancelled")

    # --- used by BlessLink ---------------------------------------------------------------

    async def notify(self, role: Role, value: bytes) -> None:
        """Set ``role``'s value and notify it, retrying while the stack's queue is full."""
        server = self._server
        if server is None:
            raise LinkClosed("the peripheral is closed")
        uuid_str = str(self._spec.characteristic(role).uuid)
        server.get_characteristic(uuid_str).value = bytearray(value)
        calls = await notify_with_backoff(
            lambda: bool(server.update_value(self._service, uuid_str)),
            within=self._options.response_timeout,
        )
        if calls > 1:
            _log.debug("notification accepted after %d tries", calls)

    async def end_session(self, link: BlessLink, *, tell_peer: bool) -> None:
        """Close ``link``: notify END (if the central is still there) and let it disconnect."""
        watchdog, self._watchdog = self._watchdog, None
        if tell_peer and self._server is not None:
            try:
                await self._say_end()
                await asyncio.wait_for(self._central_gone(), END_GRACE)
            except Exception as error:  # best effort: the central may already be gone
                _log.debug("END not delivered: %r", error)
        if watchdog is not None:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        if self._link is link:
            self._inbox = None

    async def _say_end(self) -> None:
        # END where the central listens: State if it subscribed there (every bleak central
        # does, and profile 1), else an empty Server2Client notification (profile 2).
        subscribed = getattr(getattr(self._server, "app", None), "subscribed_characteristics", [])
        state = str(self._spec.characteristic(Role.STATE).uuid)
        if any(str(u).lower() == state for u in subscribed):
            await self.notify(Role.STATE, bytes([StateValue.END]))
        else:
            await self.notify(Role.SERVER2CLIENT, END_NOTIFICATION)

    async def _central_gone(self) -> None:
        # Polling: bless offers no event for a central leaving.
        while self._server is not None and await self._server.is_connected():  # noqa: ASYNC110
            await asyncio.sleep(WATCHDOG_PERIOD / 2)

    async def _watch(self, link: BlessLink) -> None:
        # bless has no disconnect callback; BlueZ drops a gone central's subscriptions.
        while not link.closed:
            await asyncio.sleep(WATCHDOG_PERIOD)
            server = self._server
            if server is None or not await server.is_connected():
                self._loop_close(link, "the central disconnected")
                return

    def _loop_close(self, link: BlessLink, reason: str) -> None:
        if self._inbox is not None and self._link is link:
            self._inbox.close(reason)


def _address_of_path(path: str) -> str:
    """``AA:BB:CC:DD:EE:FF`` from BlueZ's ``/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF``."""
    return path.rsplit("/dev_", 1)[-1].replace("_", ":")


async def _drop_bus(server: Any) -> None:
    bus = getattr(server, "bus", None)
    if bus is not None:
        bus.disconnect()
