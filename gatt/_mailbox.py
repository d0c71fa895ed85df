"""The one mailbox of gatt: an unbounded, closable FIFO that callbacks feed and async readers drain.

Every backend hands what its stack delivers (received chunks, scan results, accepted links)
to the task that waits for it through a :class:`Mailbox`:

- :class:`Mailbox` is fed on the event loop's thread (Bumble event handlers, the memory
  backend): :meth:`~Mailbox.put` never blocks, a reader awaits :meth:`~Mailbox.get`.
- :class:`ThreadSafeMailbox` adds :meth:`~ThreadSafeMailbox.feed` and
  :meth:`~ThreadSafeMailbox.feed_close`, safe from any thread: bless calls its write callback
  on the loop's thread on BlueZ but on CoreBluetooth's / WinRT's own threads on macOS and
  Windows. They hop with ``loop.call_soon_threadsafe``, which runs callbacks in the order they
  were scheduled, so items reach the reader in the order the stack delivered them.

Invariants:
- Items come out in the order they went in, each exactly once (a reader cancelled while
  waiting takes nothing).
- After :meth:`~Mailbox.close`, :meth:`~Mailbox.put` drops items and :meth:`~Mailbox.get`
  returns what is left, then raises :class:`MailboxClosed` (carrying the first close reason)
  on every call. A close fed after items is seen only once those items are consumed.
- Items are handed over as they are: feed immutable values (``bytes``, never the stack's
  reusable ``bytearray``; mypy's strict bytes checking refuses the latter for ``bytes``).
- Only ``feed`` / ``feed_close`` may be called off the loop's thread; the constructor too (it
  creates no event-loop object), so a callback on a stack thread may make a mailbox.
- Nothing here holds a resource that needs closing: an abandoned mailbox never warns.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

import anyio

__all__ = ["Mailbox", "MailboxClosed", "ThreadSafeMailbox"]

T = TypeVar("T")


class MailboxClosed(Exception):
    """The mailbox is closed and empty; ``str()`` is the reason given to the first close."""


class Mailbox(Generic[T]):
    """See the module docstring. Loop thread only."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._reason: str | None = None
        # Made on the first wait, on the loop: the constructor may run on a stack's thread.
        self._ready: anyio.Event | None = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._reason is not None

    def put(self, item: T) -> bool:
        """Append ``item``; False (and the item dropped) if the mailbox is closed."""
        if self._reason is not None:
            return False
        self._items.append(item)
        self._wake()
        return True

    def close(self, reason: str = "mailbox closed") -> None:
        """No more items; readers drain what is queued, then see MailboxClosed. The first
        reason wins; closing again does nothing."""
        if self._reason is None:
            self._reason = reason
            self._wake()

    async def get(self) -> T:
        """The oldest item, waiting for one; MailboxClosed once closed and drained."""
        while not self._items:
            if self._reason is not None:
                raise MailboxClosed(self._reason)
            if self._ready is None or self._ready.is_set():
                self._ready = anyio.Event()
            await self._ready.wait()
        await anyio.lowlevel.checkpoint()
        return self._items.popleft()

    def _wake(self) -> None:
        if self._ready is not None:
            self._ready.set()


class ThreadSafeMailbox(Mailbox[T]):
    """A :class:`Mailbox` that other threads may feed, owned by ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop

    def feed(self, item: T) -> None:
        """Hand ``item`` over from any thread; it is put on the loop, after earlier feeds."""
        self._loop.call_soon_threadsafe(self.put, item)

    def feed_close(self, reason: str) -> None:
        """Hand the close over from any thread, after the items fed before it."""
        self._loop.call_soon_threadsafe(self.close, reason)
