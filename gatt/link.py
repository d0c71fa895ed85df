"""The backend contract: a connected :class:`Link`, a :class:`Peripheral` and a :class:`Central`.

Every backend (``memory``, Bumble ``virtual`` / ``bumble:<transport>``, ``os``) implements these
three abstract classes; their docstrings are the specification, and the application drives its
sans-I/O session over a :class:`Link` with anyio, knowing nothing of the backend.

A backend module exposes exactly two factory functions (see :mod:`gatt.adapters`)::

    def open_peripheral(adapter: str, *, spec: ServiceSpec, info: Info,
                        options: LinkOptions) -> Peripheral
    def open_central(adapter: str, *, spec: ServiceSpec, options: LinkOptions) -> Central

Both are synchronous, do no I/O, and return an object that is not yet started: entering it
(``async with``) opens the adapter and leaving it releases everything it holds.

Session set-up, identical on every backend (the order matters; see ``gatt/SERVICE.md``):

1. the peripheral advertises the service UUID and ``local_name_for(tag)``;
2. the central connects, exchanges the ATT MTU (up to ``options.max_att_mtu``), discovers the
   service, reads Info, subscribes to Server2Client and State notifications, and only then
   writes ``encode_start(att_mtu)`` (START plus the MTU in force) to State *with response*;
3. the peripheral's ``accept`` returns its Link when START arrives (so it never notifies a
   central that has not subscribed) and stops advertising; the central's ``connect`` returns
   its Link when the START write is acknowledged.

Invariants of every Link:
- Chunks arrive whole, in order, at most once; ``receive`` returns exactly the bytes one
  ``send`` on the other side gave. A chunk may be lost only when the link closes (the layers
  above detect it by length and AEAD and retry the session).
- ``len(chunk) <= max_chunk <= 512``: on a peripheral ``max_chunk == min(att_mtu - 3, 512)``
  (notifications), on a central ``min(att_mtu - 3, 510)`` (writes; BlueZ refuses more), for
  the ATT MTU really in force on this connection. :meth:`Link.send` checks the size and
  that the link is open once, for every backend; a backend only puts a valid chunk on air.
- Once the other end goes away (disconnect, State END, radio loss), ``send`` raises
  :class:`~gatt.errors.LinkClosed` and ``receive`` raises it after the chunks already received
  are consumed. ``aclose`` is idempotent and never raises for an already-closed link.
- One central at a time: while a peripheral's Link is open it neither advertises nor accepts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import anyio

from gatt.backoff import BackOffPolicy
from gatt.errors import ChunkTooLarge, LinkClosed, LinkTimeout
from gatt.spec import ATT_MTU_MAX, Info

__all__ = ["Central", "Link", "LinkOptions", "PeerInfo", "Peripheral", "ScanResult"]


@dataclass(frozen=True, kw_only=True)
class LinkOptions:
    """Tuning shared by every backend; a backend ignores what its stack does not offer."""

    max_att_mtu: int = ATT_MTU_MAX
    """Largest ATT MTU this side asks for (central) or accepts (peripheral): 23..517."""
    write_with_response: bool = False
    """Central only: send chunks with ATT Write Requests (one round trip each) instead of
    Write Commands; for stacks that give commands no flow control (bleak on macOS)."""
    connect_timeout: float = 10.0
    """Seconds for the whole central set-up (connect, MTU, discovery, Info, START)."""
    response_timeout: float = 10.0
    """Seconds to wait for one ATT response (reads, writes with response)."""
    start_timeout: float = 2.0
    """Peripheral only: seconds a central has from connecting to writing START; then it is
    disconnected, struck (see ``backoff``) and advertising resumes."""
    backoff: BackOffPolicy = field(default_factory=BackOffPolicy)
    """Peripheral only: how long addresses that wasted sessions are refused."""
    allow_public_address: bool = False
    """Peripheral only: advertise even where the stack would use the adapter's fixed address
    (the os backend with BlueZ privacy off). Off (the default), such a peripheral refuses to
    start with PublicAddress, whose message says how to turn privacy on."""

    def __post_init__(self) -> None:
        if not 23 <= self.max_att_mtu <= ATT_MTU_MAX:
            raise ValueError(f"max_att_mtu must be in 23..{ATT_MTU_MAX}")
        if min(self.connect_timeout, self.response_timeout, self.start_timeout) <= 0:
            raise ValueError("timeouts must be positive")


@dataclass(frozen=True, kw_only=True)
class PeerInfo:
    """What one side of a Link knows about the other."""

    address: str
    """The peer's address as seen on air (random, so it identifies nobody across sessions)."""
    att_mtu: int
    """The ATT MTU in force on this connection."""
    tag: str
    """The session tag the peripheral advertised for this session."""
    info: Info | None
    """The peripheral's Info as read by the central; None on the peripheral's side."""


@dataclass(frozen=True, kw_only=True)
class ScanResult:
    """One advertisement of our service, seen by a central."""

    address: str
    """Advertiser's address (random)."""
    tag: str
    """Session tag from the advertised local name."""
    rssi: int
    """Received signal strength in dBm (closer is higher); the kiosk's proximity gate."""
    name: str
    """The full advertised local name (``NAME_PREFIX + tag``)."""
    handle: object = field(default=None, compare=False, repr=False)
    """Backend-private reference ``connect`` needs (a Bumble address, a bleak BLEDevice...)."""


class Link(ABC):
    """A connected, ordered, message-preserving chunk pipe between one central and one
    peripheral. Use it as an async context manager or call :meth:`aclose`."""

    @property
    @abstractmethod
    def max_chunk(self) -> int:
        """Largest chunk ``send`` accepts for the real ATT MTU: ``min(att_mtu - 3, 512)`` on a
        peripheral, ``min(att_mtu - 3, 510)`` on a central (see ``gatt.spec.max_write_chunk``)."""

    @property
    @abstractmethod
    def peer(self) -> PeerInfo:
        """The other end: address, MTU, session tag, and Info (central side)."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """True once the link is closed, by either side or by the radio."""

    async def send(self, chunk: bytes) -> None:
        """Send one chunk (1..max_chunk bytes) to the peer.

        On the central this is one ATT Write Command to Client2Server (a Write Request if
        ``options.write_with_response``); on the peripheral one notification of Server2Client.
        Returns once the backend has taken the chunk; no ATT round trip on the fast path.
        Raises ChunkTooLarge for an oversized or empty chunk, LinkClosed once the link is gone.

        A template: the checks every backend shares are made here, once, in this order (size,
        then closed), and only a valid chunk on an open link reaches :meth:`_send_chunk`.
        """
        if not 0 < len(chunk) <= self.max_chunk:
            raise ChunkTooLarge(f"chunk of {len(chunk)} bytes; max_chunk is {self.max_chunk}")
        if self.closed:
            raise LinkClosed("link closed")
        await self._send_chunk(bytes(chunk))

    @abstractmethod
    async def _send_chunk(self, chunk: bytes) -> None:
        """The backend's part of :meth:`send`: put one checked chunk on air.

        Raises only :mod:`gatt.errors` types (LinkClosed, LinkTimeout) for a failure.
        """

    @abstractmethod
    async def receive(self) -> bytes:
        """The next chunk the peer sent, waiting as long as needed (bound it with anyio).

        Raises LinkClosed once the link is gone and every chunk received before is consumed.
        """

    @abstractmethod
    async def aclose(self) -> None:
        """End the session: tell the peer (State END, best effort) and disconnect.

        Idempotent; never raises because the link is already closed. The peer's pending and
        later ``send``/``receive`` calls raise LinkClosed within a bounded time.
        """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Peripheral(ABC):
    """The payer's side: runs the GATT service and accepts one central at a time.

    ``async with open_peripheral(...) as peripheral:`` opens the adapter and registers the
    service (Info readable at once); leaving closes any open Link and releases the adapter.
    """

    @abstractmethod
    async def start(self) -> None:
        """Open the adapter and register the service. Raises AdapterUnavailable."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stop advertising, close any open Link, release the adapter. Idempotent."""

    @abstractmethod
    async def accept(self, *, tag: str, same_address: bool = False) -> Link:
        """Advertise the service with ``local_name_for(tag)`` and wait for a central to start
        a session (its START write); return that session's Link.

        A backend that chooses its own addresses advertises each session from a fresh one
        (nothing on the air links two sessions); ``same_address`` keeps the last session's,
        so a central that lost its link can find this peripheral again. Backends whose
        operating system manages the address (``os``) and the memory backend ignore it.

        Advertising stops when the Link is returned (or the call is cancelled). A central
        that connects while another session's Link is open is disconnected, and one that
        connects but does not start a session within ``options.start_timeout`` is dropped
        and struck (advertising resumes at once). A central whose address is banned
        (``options.backoff``) is disconnected as soon as it connects, which strikes it again.
        Use a fresh tag (``new_session_tag()``) per session. Waits without limit: bound it
        with anyio. Raises RuntimeError if the previous session's Link is still open (one
        central at a time) or another ``accept`` is running.
        """

    def wasted(self, peer: PeerInfo) -> None:  # noqa: B027 (optional, not abstract)
        """The session with ``peer`` ended before anything useful: strike its address.

        The application says so (gatt cannot tell a useful session from a useless one): a
        session that ended before the peer sent a valid request. Backends that know no peer
        address (bless) ignore it.
        """

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Central(ABC):
    """The payee's side: scans for the service and connects to one peripheral.

    ``async with open_central(...) as central:`` opens the adapter; leaving closes any Link it
    made and releases the adapter.
    """

    @abstractmethod
    async def start(self) -> None:
        """Open the adapter. Raises AdapterUnavailable."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stop scanning, close any open Link, release the adapter. Idempotent."""

    @abstractmethod
    def scan(self) -> AbstractAsyncContextManager[AsyncIterator[ScanResult]]:
        """Scan for advertisements of our service UUID whose local name carries a tag.

        ``async with central.scan() as results: async for result in results: ...``; the
        iterator never ends by itself (bound it with anyio); the same peer may be reported
        again as its RSSI changes. Scanning stops when the context exits.
        """

    @abstractmethod
    async def connect(self, result: ScanResult) -> Link:
        """Connect to a scanned peripheral and set the session up (MTU, discovery, Info,
        subscriptions, START); return the Link.

        Raises ConnectFailed, ServiceMismatch, or LinkTimeout after ``options.connect_timeout``.
        """

    async def find(self, *, tag: str | None = None, within: float = 10.0) -> ScanResult:
        """The first scan result (with this session tag, if given) within ``within`` seconds.

        Raises LinkTimeout if none is seen.
        """
        with anyio.move_on_after(within):
            async with self.scan() as results:
                async for result in results:
                    if tag is None or result.tag == tag:
                        return result
        raise LinkTimeout(f"no peripheral{'' if tag is None else ' ' + tag} within {within}s")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
