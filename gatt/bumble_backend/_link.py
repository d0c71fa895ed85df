"""The part of a Bumble Link both roles share: inbox, closing, peer info, disconnection.

Invariants:
- Chunks reach ``receive`` in the order Bumble's callbacks delivered them (one mailbox,
  fed synchronously, so no task reordering).
- The link is closed exactly once, by whichever comes first: our ``aclose``, the peer's
  State END, or the HCI disconnection; after that ``send`` raises LinkClosed at once (the
  :meth:`gatt.link.Link.send` template checks) and ``receive`` raises it once the inbox is
  drained. A chunk whose connection drops while it is queued raises LinkClosed too.
- ``aclose`` delivers what was sent before it (it waits for the host's ACL queue to drain
  before disconnecting), never waits more than :data:`CLOSE_TIMEOUT` seconds even if the
  radio is gone, and never raises because the link is already down.
"""

from __future__ import annotations

from abc import abstractmethod
from contextlib import suppress
from typing import Any

import anyio
from bumble import core, hci
from bumble.device import Connection

from gatt._mailbox import Mailbox, MailboxClosed
from gatt.bumble_backend._common import TaskSet, translated
from gatt.errors import LinkClosed
from gatt.link import Link, PeerInfo
from gatt.spec import Info, max_chunk

_BUMBLE_ERRORS = (core.BaseBumbleError, OSError)

CLOSE_TIMEOUT = 2.0
"""Seconds ``aclose`` may spend telling the peer and disconnecting."""


class BumbleLink(Link):
    """A Link over one Bumble LE connection; subclasses say how a chunk and END go out."""

    def __init__(
        self, *, connection: Connection, tag: str, info: Info | None, tasks: TaskSet
    ) -> None:
        self._connection = connection
        self._tag = tag
        self._info = info
        self._tasks = tasks
        self._inbox: Mailbox[bytes] = Mailbox()
        self._closed = False
        self._disconnected = False
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    @property
    def connection(self) -> Connection:
        """The Bumble connection under this link."""
        return self._connection

    @property
    def closed(self) -> bool:
        """True once the link is closed (by either side or by the radio)."""
        return self._closed

    @property
    def max_chunk(self) -> int:
        return max_chunk(self._connection.att_mtu)

    @property
    def peer(self) -> PeerInfo:
        return PeerInfo(
            address=self._connection.peer_address.to_string(with_type_qualifier=False),
            att_mtu=self._connection.att_mtu,
            tag=self._tag,
            info=self._info,
        )

    def deliver(self, chunk: bytes) -> None:
        """Called by a Bumble callback with one received chunk."""
        self._inbox.put(bytes(chunk))

    def peer_ended(self) -> None:
        """The peer wrote or notified State END: close and drop the connection."""
        self._mark_closed()
        self._tasks.spawn(self._disconnect())

    def _on_disconnection(self, reason: Any = None) -> None:
        self._disconnected = True
        self._mark_closed()

    def _mark_closed(self) -> None:
        self._closed = True
        self._inbox.close()

    @abstractmethod
    async def _transmit(self, chunk: bytes) -> None:
        """Put one chunk on air."""

    @abstractmethod
    async def _say_end(self) -> None:
        """Tell the peer the session is over (State END), without waiting for an answer."""

    async def _send_chunk(self, chunk: bytes) -> None:
        with translated("send"):
            await self._transmit(chunk)
        if self._closed:
            # The connection dropped while the chunk was queued: it may not have left.
            raise LinkClosed("link closed during send")

    async def receive(self) -> bytes:
        try:
            return await self._inbox.get()
        except MailboxClosed:
            raise LinkClosed("link closed") from None

    async def aclose(self) -> None:
        if self._closed and self._disconnected:
            return
        was_open = not self._closed
        self._mark_closed()
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            if was_open and not self._disconnected:
                try:
                    with translated("end"):
                        await self._say_end()
                except LinkClosed:
                    pass
            if not self._disconnected:
                # Chunks and END may still sit in the host's ACL queue; disconnecting now
                # would drop them, so wait until the controller has taken them all.
                with suppress(*_BUMBLE_ERRORS):
                    await self._connection.drain()
            await self._disconnect()

    async def _disconnect(self) -> None:
        if self._disconnected:
            return
        try:
            with translated("disconnect"):
                await self._connection.disconnect(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        except LinkClosed:
            pass
