"""What the two os links share: the bless peripheral's and the bleak central's end of a session.

Both receive through the stack's callbacks, which may run on another thread, so both read one
:class:`~gatt._mailbox.ThreadSafeMailbox` of chunks that the peripheral or central feeds; both
close the same way; they differ only in how a chunk and END go out and how the connection is
let go (the hooks :meth:`OsLink._put_on_air`, :meth:`OsLink._end`, :meth:`OsLink._release`,
:meth:`OsLink._wait_released`).

Invariants:
- ``receive`` returns the chunks fed to the mailbox in feed order, each once; once the mailbox
  is closed (the peer's END, a disconnect, our ``aclose``) and drained, it raises LinkClosed
  with the first close reason, on every call.
- The link is closed once ``aclose`` has begun or the mailbox is closed.
- ``aclose`` tells the peer END at most once, and only if the peer has not ended the session
  or gone already; it closes the mailbox after that, then lets the connection go; it never
  raises because the link is already down; a later call waits for a disconnection that the
  peer's END started.
- A failure to put a chunk on air leaves ``send`` as LinkTimeout (the stack's deadline) or
  LinkClosed (anything else the stack raised), never as a stack exception.
"""

from __future__ import annotations

from abc import abstractmethod

from gatt._mailbox import MailboxClosed, ThreadSafeMailbox
from gatt.errors import LinkClosed, LinkTimeout
from gatt.link import Link, PeerInfo

__all__ = ["OsLink"]


class OsLink(Link):
    """A Link whose chunks arrive through ``inbox``, fed by the stack's callbacks."""

    def __init__(self, inbox: ThreadSafeMailbox[bytes], *, peer: PeerInfo, max_chunk: int):
        self._inbox = inbox
        self._peer = peer
        self._max_chunk = max_chunk
        self._closing = False

    @property
    def max_chunk(self) -> int:
        return self._max_chunk

    @property
    def peer(self) -> PeerInfo:
        return self._peer

    @property
    def closed(self) -> bool:
        return self._closing or self._inbox.closed

    async def _send_chunk(self, chunk: bytes) -> None:
        try:
            await self._put_on_air(chunk)
        except LinkTimeout:
            raise
        except Exception as error:
            raise LinkClosed(f"send failed: {error}") from error

    async def receive(self) -> bytes:
        try:
            return await self._inbox.get()
        except MailboxClosed as closed:
            raise LinkClosed(str(closed)) from None

    async def aclose(self) -> None:
        if self._closing:
            await self._wait_released()
            return
        self._closing = True
        await self._end(tell_peer=not self._inbox.closed)
        self._inbox.close("closed locally")
        await self._release()

    @abstractmethod
    async def _put_on_air(self, chunk: bytes) -> None:
        """Write or notify one checked chunk; LinkTimeout if the stack's deadline passes."""

    @abstractmethod
    async def _end(self, *, tell_peer: bool) -> None:
        """End the session on the stack: tell the peer END if ``tell_peer`` (best effort,
        never raising) and wait for what the stack needs before the mailbox closes."""

    async def _release(self) -> None:
        """Let the connection go, after the mailbox closed (first ``aclose`` only; never
        raising). Nothing by default."""

    async def _wait_released(self) -> None:
        """A later ``aclose``: wait for a release the peer's END started. Nothing by default."""
