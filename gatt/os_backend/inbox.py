"""An ordered chunk inbox fed from any thread, drained by one task on the event loop.

bless calls its write callback synchronously, on the event loop's thread on BlueZ but on
CoreBluetooth's / WinRT's own threads on macOS and Windows; bleak calls notification callbacks
on the loop. Every producer goes through :meth:`ChunkInbox.feed`, which hands the chunk over
with ``loop.call_soon_threadsafe``: the loop runs those callbacks in the order they were
scheduled, so chunks reach the consumer in the order the stack delivered them.

Invariants:
- ``receive`` returns chunks in feed order, each exactly once.
- After ``close`` (or a fed close), ``receive`` still returns every chunk fed before it, then
  raises :class:`~gatt.errors.LinkClosed` on every call.
- State is only touched on the loop's thread; ``feed``/``feed_close`` are the only methods
  safe to call from other threads.
"""

from __future__ import annotations

import asyncio
from collections import deque

from gatt.errors import LinkClosed

__all__ = ["ChunkInbox"]


class ChunkInbox:
    """FIFO of received chunks with a close marker; one consumer at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._chunks: deque[bytes] = deque()
        self._closed_reason: str | None = None
        self._waiter: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        """True once the close marker has reached the loop."""
        return self._closed_reason is not None

    def feed(self, chunk: bytes | bytearray) -> None:
        """Hand a chunk over from any thread (a copy is taken at once)."""
        self._loop.call_soon_threadsafe(self.put, bytes(chunk))

    def feed_close(self, reason: str) -> None:
        """Hand the close marker over from any thread, after the chunks fed before it."""
        self._loop.call_soon_threadsafe(self.close, reason)

    def put(self, chunk: bytes) -> None:
        """Append a chunk; loop thread only. Chunks after the close marker are dropped."""
        if self._closed_reason is None:
            self._chunks.append(chunk)
            self._wake()

    def close(self, reason: str) -> None:
        """Mark the end of the stream; loop thread only. The first reason wins."""
        if self._closed_reason is None:
            self._closed_reason = reason
            self._wake()

    async def receive(self) -> bytes:
        """The oldest chunk, waiting for one; LinkClosed once closed and drained."""
        while not self._chunks:
            if self._closed_reason is not None:
                raise LinkClosed(self._closed_reason)
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._chunks.popleft()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
