"""An unbounded, closable FIFO that synchronous callbacks feed and one async reader drains.

Backends hand received chunks over from their stack's callbacks (Bumble event handlers, bless
write callbacks after a thread hop) with :meth:`Mailbox.put`, which never blocks; the Link's
``receive`` awaits :meth:`Mailbox.get`.

Invariants: items come out in the order they went in; after :meth:`close`, :meth:`put` drops
items and :meth:`get` returns what is left, then raises :class:`MailboxClosed`. Nothing here
holds a resource that needs closing, so an abandoned mailbox never warns when collected.
Must be used from the event loop's thread only.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import anyio

__all__ = ["Mailbox", "MailboxClosed"]

T = TypeVar("T")


class MailboxClosed(Exception):
    """The mailbox is closed and empty."""


class Mailbox(Generic[T]):
    """See the module docstring."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._closed = False
        self._ready = anyio.Event()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def put(self, item: T) -> bool:
        """Append ``item``; False (and the item dropped) if the mailbox is closed."""
        if self._closed:
            return False
        self._items.append(item)
        self._ready.set()
        return True

    def close(self) -> None:
        """No more items; the reader drains what is queued, then sees MailboxClosed."""
        self._closed = True
        self._ready.set()

    async def get(self) -> T:
        """The oldest item, waiting for one; MailboxClosed once closed and drained."""
        while not self._items:
            if self._closed:
                raise MailboxClosed
            if self._ready.is_set():
                self._ready = anyio.Event()
            await self._ready.wait()
        await anyio.lowlevel.checkpoint()
        return self._items.popleft()
