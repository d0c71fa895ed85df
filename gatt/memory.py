"""The ``memory`` backend: peripherals and centrals joined by anyio streams, with faults.

For unit tests of the layers above only: no ATT, no radio, but the same :mod:`gatt.link`
contract (scan by service UUID, tag, RSSI; START handshake; ``max_chunk`` from an MTU;
LinkClosed on both sides) and deterministic fault injection:

- ``att_mtu``: the MTU the link reports (so ``max_chunk`` is ``min(att_mtu - 3, 510)`` on
  the central, ``min(att_mtu - 3, 512)`` on the peripheral);
- ``drop_at``: the link drops when the N-th chunk (1-based, both directions counted together)
  is sent: that chunk is lost and both sides get LinkClosed, as if the radio died;
- ``delay``: seconds each chunk spends in flight (ordering is kept).

Adapter strings: ``memory`` or ``memory:mtu=23,drop_at=5,delay=0.01,rssi=-60``. Devices opened
with the ``memory`` adapter in one event loop share one :class:`MemoryRadio` (an anyio
``RunVar``, so two event loops never see each other); tests may also make their own radio.

Invariants: a chunk is delivered whole, in order, at most once; after a drop nothing more is
delivered in either direction; nothing here blocks a sender (buffers are unbounded, like a
stack that always has room), so two sides that both send first never deadlock.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace

import anyio
from anyio.lowlevel import RunVar

from gatt._mailbox import Mailbox, MailboxClosed
from gatt.errors import BadAdapter, ConnectFailed, LinkClosed
from gatt.link import Central, Link, LinkOptions, PeerInfo, Peripheral, ScanResult
from gatt.spec import Info, ServiceSpec, local_name_for, max_chunk, max_write_chunk

__all__ = [
    "MemoryFaults",
    "MemoryRadio",
    "memory_pair",
    "open_central",
    "open_peripheral",
    "parse_faults",
]


@dataclass(frozen=True, kw_only=True)
class MemoryFaults:
    """Faults a memory device injects into the links it takes part in."""

    att_mtu: int = 247
    """ATT MTU to report; the link uses the smallest of both sides' MTU and options."""
    drop_at: int | None = None
    """Drop the link when the N-th chunk (1-based, both directions) is sent; None: never."""
    delay: float = 0.0
    """Seconds each chunk spends in flight."""
    rssi: int = -50
    """RSSI a central sees for this peripheral."""

    def __post_init__(self) -> None:
        if not 23 <= self.att_mtu <= 517:
            raise ValueError("att_mtu must be in 23..517")
        if self.drop_at is not None and self.drop_at < 1:
            raise ValueError("drop_at counts from 1")
        if self.delay < 0:
            raise ValueError("delay must not be negative")


def parse_faults(adapter: str) -> MemoryFaults:
    """Faults from ``memory`` or ``memory:mtu=23,drop_at=5,delay=0.01,rssi=-60``."""
    if adapter == "memory":
        return MemoryFaults()
    if not adapter.startswith("memory:"):
        raise BadAdapter(f"not a memory adapter: {adapter!r}")
    faults = MemoryFaults()
    for item in filter(None, adapter[len("memory:") :].split(",")):
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError(item)
            if key == "mtu":
                faults = replace(faults, att_mtu=int(value))
            elif key == "drop_at":
                faults = replace(faults, drop_at=int(value))
            elif key == "delay":
                faults = replace(faults, delay=float(value))
            elif key == "rssi":
                faults = replace(faults, rssi=int(value))
            else:
                raise ValueError(f"unknown key {key!r}")
        except ValueError as error:
            raise BadAdapter(f"bad memory adapter {adapter!r}: {error}") from error
    return faults


def _random_address() -> str:
    raw = bytearray(secrets.token_bytes(6))
    raw[0] |= 0xC0  # a static random address has its two top bits set (Core Vol 6 B 1.3.2.1)
    return ":".join(f"{b:02X}" for b in raw)


class _Wire:
    """The shared medium of one connection: two one-way streams, a chunk counter, one fate."""

    def __init__(self, *, att_mtu: int, drop_at: int | None, delay: float) -> None:
        self.att_mtu = att_mtu
        self.drop_at = drop_at
        self.delay = delay
        self.sent = 0
        self.closed = False
        self.to_peripheral: Mailbox[bytes] = Mailbox()
        self.to_central: Mailbox[bytes] = Mailbox()

    def close(self) -> None:
        # Closing the send ends lets each receiver drain what arrived, then see the end.
        self.closed = True
        self.to_peripheral.close()
        self.to_central.close()


class MemoryLink(Link):
    """One end of a memory connection."""

    def __init__(
        self,
        *,
        wire: _Wire,
        outgoing: Mailbox[bytes],
        incoming: Mailbox[bytes],
        peer: PeerInfo,
        central: bool,
    ) -> None:
        self._wire = wire
        self._outgoing = outgoing
        self._incoming = incoming
        self._peer = peer
        self._central = central

    @property
    def max_chunk(self) -> int:
        # As on a radio: a central writes (BlueZ's 510-byte limit), a peripheral notifies.
        if self._central:
            return max_write_chunk(self._wire.att_mtu)
        return max_chunk(self._wire.att_mtu)

    @property
    def peer(self) -> PeerInfo:
        return self._peer

    @property
    def closed(self) -> bool:
        """True once the connection is gone (either side closed it, or it dropped)."""
        return self._wire.closed

    async def _send_chunk(self, chunk: bytes) -> None:
        self._wire.sent += 1
        if self._wire.drop_at is not None and self._wire.sent >= self._wire.drop_at:
            self._wire.close()
            raise LinkClosed(f"memory link dropped at chunk {self._wire.sent}")
        if self._wire.delay:
            await anyio.sleep(self._wire.delay)
        if not self._outgoing.put(chunk):
            raise LinkClosed("memory link closed")

    async def receive(self) -> bytes:
        try:
            return await self._incoming.get()
        except MailboxClosed as error:
            raise LinkClosed("memory link closed") from error

    async def aclose(self) -> None:
        self._wire.close()
        await anyio.lowlevel.checkpoint()


def memory_pair(
    faults: MemoryFaults | None = None, *, tag: str = "memory", info: Info | None = None
) -> tuple[MemoryLink, MemoryLink]:
    """A connected (central, peripheral) Link pair without discovery, for unit tests."""
    faults = faults or MemoryFaults()
    wire = _Wire(att_mtu=faults.att_mtu, drop_at=faults.drop_at, delay=faults.delay)
    central_address, peripheral_address = _random_address(), _random_address()
    central = MemoryLink(
        wire=wire,
        outgoing=wire.to_peripheral,
        incoming=wire.to_central,
        peer=PeerInfo(address=peripheral_address, att_mtu=wire.att_mtu, tag=tag, info=info),
        central=True,
    )
    peripheral = MemoryLink(
        wire=wire,
        outgoing=wire.to_central,
        incoming=wire.to_peripheral,
        peer=PeerInfo(address=central_address, att_mtu=wire.att_mtu, tag=tag, info=None),
        central=False,
    )
    return central, peripheral


@dataclass(kw_only=True, eq=False)
class _Advert:
    service: ServiceSpec
    address: str
    tag: str
    rssi: int
    info: Info
    att_mtu: int
    faults: MemoryFaults
    inbox: Mailbox[MemoryLink] = field(repr=False)


class MemoryRadio:
    """An in-process medium where memory peripherals advertise and memory centrals scan."""

    def __init__(self) -> None:
        self._adverts: list[_Advert] = []
        self._changed = anyio.Event()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _advertise(self, advert: _Advert) -> None:
        self._adverts.append(advert)
        self._touch()

    def _withdraw(self, advert: _Advert) -> bool:
        if advert not in self._adverts:
            return False
        self._adverts.remove(advert)
        self._touch()
        return True

    def open_peripheral(
        self,
        *,
        spec: ServiceSpec,
        info: Info,
        options: LinkOptions,
        faults: MemoryFaults | None = None,
    ) -> MemoryPeripheral:
        """An unstarted peripheral on this radio."""
        return MemoryPeripheral(
            radio=self, spec=spec, info=info, options=options, faults=faults or MemoryFaults()
        )

    def open_central(
        self, *, spec: ServiceSpec, options: LinkOptions, faults: MemoryFaults | None = None
    ) -> MemoryCentral:
        """An unstarted central on this radio."""
        return MemoryCentral(
            radio=self, spec=spec, options=options, faults=faults or MemoryFaults()
        )


_RADIO: RunVar[MemoryRadio] = RunVar("gatt.memory.radio")


def _loop_radio() -> MemoryRadio:
    # One shared radio per event loop for the ``memory`` adapter string.
    try:
        return _RADIO.get()
    except LookupError:
        radio = MemoryRadio()
        _RADIO.set(radio)
        return radio


class MemoryPeripheral(Peripheral):
    """A memory peripheral; see :class:`gatt.link.Peripheral`."""

    def __init__(
        self,
        *,
        radio: MemoryRadio | None,
        spec: ServiceSpec,
        info: Info,
        options: LinkOptions,
        faults: MemoryFaults,
    ) -> None:
        self._radio = radio
        self._spec = spec
        self._info = info
        self._options = options
        self._faults = faults
        self._address = _random_address()
        self._link: MemoryLink | None = None
        self._started = False
        self._accepting = False

    async def start(self) -> None:
        self._radio = self._radio or _loop_radio()
        self._started = True
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        if self._link is not None:
            await self._link.aclose()
            self._link = None
        self._started = False

    async def accept(self, *, tag: str, same_address: bool = False) -> Link:
        if self._accepting:
            raise RuntimeError("accept is already running")
        if not self._started or self._radio is None:
            raise RuntimeError("start the peripheral (async with) before accept")
        if self._link is not None and not self._link.closed:
            raise RuntimeError("the previous session's Link is still open")
        radio = self._radio
        local_name_for(tag)  # validates the tag before anything goes on air
        self._address = _random_address()  # a new address per session, as on a radio
        inbox: Mailbox[MemoryLink] = Mailbox()
        advert = _Advert(
            service=self._spec,
            address=self._address,
            tag=tag,
            rssi=self._faults.rssi,
            info=self._info,
            att_mtu=min(self._faults.att_mtu, self._options.max_att_mtu),
            faults=self._faults,
            inbox=inbox,
        )
        radio._advertise(advert)
        self._accepting = True
        try:
            self._link = await inbox.get()
        finally:
            self._accepting = False
            radio._withdraw(advert)
            inbox.close()
        return self._link


class MemoryCentral(Central):
    """A memory central; see :class:`gatt.link.Central`."""

    def __init__(
        self,
        *,
        radio: MemoryRadio | None,
        spec: ServiceSpec,
        options: LinkOptions,
        faults: MemoryFaults,
    ) -> None:
        self._radio = radio
        self._spec = spec
        self._options = options
        self._faults = faults
        self._address = _random_address()
        self._links: list[MemoryLink] = []

    async def start(self) -> None:
        self._radio = self._radio or _loop_radio()
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        for link in self._links:
            await link.aclose()
        self._links.clear()

    def scan(self) -> AbstractAsyncContextManager[AsyncIterator[ScanResult]]:
        return self._scan()

    @asynccontextmanager
    async def _scan(self) -> AsyncIterator[AsyncIterator[ScanResult]]:
        results = self._results()
        try:
            yield results
        finally:
            await results.aclose()

    async def _results(self) -> AsyncGenerator[ScanResult, None]:
        if self._radio is None:
            raise RuntimeError("start the central (async with) before scan")
        radio = self._radio
        seen: set[int] = set()
        while True:
            changed = radio._changed
            for advert in list(radio._adverts):
                if id(advert) in seen or advert.service.uuid != self._spec.uuid:
                    continue
                seen.add(id(advert))
                yield ScanResult(
                    address=advert.address,
                    tag=advert.tag,
                    rssi=advert.rssi,
                    name=local_name_for(advert.tag),
                    handle=advert,
                )
            await changed.wait()

    async def connect(self, result: ScanResult) -> Link:
        advert = result.handle
        if not isinstance(advert, _Advert) or self._radio is None:
            raise ConnectFailed("not a memory scan result, or central not started")
        if not self._radio._withdraw(advert):
            raise ConnectFailed(f"{result.address} is no longer advertising")
        drops = [d for d in (self._faults.drop_at, advert.faults.drop_at) if d is not None]
        wire = _Wire(
            att_mtu=min(advert.att_mtu, self._faults.att_mtu, self._options.max_att_mtu),
            drop_at=min(drops) if drops else None,
            delay=max(self._faults.delay, advert.faults.delay),
        )
        central = MemoryLink(
            wire=wire,
            outgoing=wire.to_peripheral,
            incoming=wire.to_central,
            peer=PeerInfo(
                address=advert.address, att_mtu=wire.att_mtu, tag=advert.tag, info=advert.info
            ),
            central=True,
        )
        peripheral = MemoryLink(
            wire=wire,
            outgoing=wire.to_central,
            incoming=wire.to_peripheral,
            peer=PeerInfo(address=self._address, att_mtu=wire.att_mtu, tag=advert.tag, info=None),
            central=False,
        )
        if not advert.inbox.put(peripheral):
            wire.close()
            raise ConnectFailed(f"{result.address} stopped accepting")
        self._links = [link for link in self._links if not link.closed]
        self._links.append(central)
        await anyio.lowlevel.checkpoint()
        return central


def open_peripheral(
    adapter: str, *, spec: ServiceSpec, info: Info, options: LinkOptions
) -> Peripheral:
    """A memory peripheral on this event loop's shared radio; see :mod:`gatt.adapters`."""
    return MemoryPeripheral(
        radio=None, spec=spec, info=info, options=options, faults=parse_faults(adapter)
    )


def open_central(adapter: str, *, spec: ServiceSpec, options: LinkOptions) -> Central:
    """A memory central on this event loop's shared radio; see :mod:`gatt.adapters`."""
    return MemoryCentral(radio=None, spec=spec, options=options, faults=parse_faults(adapter))
