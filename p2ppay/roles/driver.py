"""Drive one sans-I/O session over one Link: the whole adapter between protocol and gatt.

The loop (aioquic's asyncio adapter is the model)::

    write every queued chunk -> hand every queued event to the app -> wait for one chunk
    or the session's timer -> feed it -> repeat, until Completed or Failed

Invariants:
- The app's event handler runs to completion before the next chunk is read, so an app input
  it makes (``approve()``, ``persisted()``) is seen before any later byte; and the session
  sends nothing a durability barrier holds back, because only ``data_to_send()`` is written.
- Chunks queued before a terminal event (the payee's receipt, an Abort) are written before
  the driver returns, so the peer gets them if the link still stands. The side that wrote
  last then lingers (bounded) until the peer hangs up: disconnecting at once could drop
  chunks still queued in a controller. The side that received the last message hangs up.
- A link that goes away ends the run as :class:`LinkLost`, never as an exception: whether to
  resume is the role's decision, and everything already persisted stays persisted.
- Time comes from ``clock`` (Unix ms), so a test can pass its own.
- ``on_sent`` (if given) runs after every non-empty batch of chunks has been handed to the
  link, before anything else happens: the roles' "after send" crash points hang on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

from gatt.errors import LinkClosed
from gatt.link import Link
from p2ppay.clock import Clock, wall_ms
from protocol.session import NEED_DATA, Completed, Event, Failed, NeedData

__all__ = [
    "LINGER_SECONDS",
    "Clock",
    "EventHandler",
    "LinkLost",
    "Outcome",
    "SentHook",
    "SessionLike",
    "run_session",
    "wall_ms",
]

EventHandler = Callable[[Event], Awaitable[None]]
"""The app's answer to one session event (it may call app inputs on the session)."""

SentHook = Callable[[], None]
"""Told that every chunk the session had queued was handed to the link."""


LINGER_SECONDS = 2.0
"""How long the side that sent the last message waits for the peer to hang up."""


class SessionLike(Protocol):
    """The sans-I/O surface the driver needs (PayerSession and PayeeSession have it)."""

    def receive_data(self, data: bytes, now: int) -> None: ...
    def next_event(self) -> Event | NeedData: ...
    def data_to_send(self) -> list[bytes]: ...
    def get_timer(self) -> int | None: ...
    def handle_timer(self, now: int) -> None: ...


@dataclass(frozen=True, kw_only=True)
class LinkLost:
    """The link went away before the session reached a terminal state."""

    reason: str


Outcome = Completed | Failed | LinkLost
"""How a run ends."""


async def run_session(
    session: SessionLike,
    link: Link,
    on_event: EventHandler,
    *,
    clock: Clock = wall_ms,
    linger: float = LINGER_SECONDS,
    on_sent: SentHook | None = None,
) -> Outcome:
    """Run ``session`` over ``link`` until it completes, fails, or the link is lost."""
    try:
        while True:
            await _flush(session, link, on_sent)
            event = session.next_event()
            if event is not NEED_DATA:
                assert not isinstance(event, NeedData)
                await on_event(event)
                if isinstance(event, Completed | Failed):
                    if await _flush(session, link, on_sent):
                        await _linger(link, linger)
                    return event
                continue
            chunk_in = await _receive_until_timer(session, link, clock)
            if chunk_in is None:
                session.handle_timer(clock())
            else:
                session.receive_data(chunk_in, clock())
    except LinkClosed as exc:
        return LinkLost(reason=str(exc) or "link closed")


async def _linger(link: Link, seconds: float) -> None:
    """Wait until the peer hangs up (LinkClosed), at most ``seconds``; drop what arrives."""
    with anyio.move_on_after(seconds):
        try:
            while True:
                await link.receive()
        except LinkClosed:
            return


async def _flush(session: SessionLike, link: Link, on_sent: SentHook | None) -> bool:
    """Write every queued chunk; tell ``on_sent`` if there were any; say if there were."""
    chunks = session.data_to_send()
    for chunk in chunks:
        await link.send(chunk)
    if chunks and on_sent is not None:
        on_sent()
    return bool(chunks)


async def _receive_until_timer(session: SessionLike, link: Link, clock: Clock) -> bytes | None:
    """One chunk, or None once the session's timer is due."""
    deadline = session.get_timer()
    if deadline is None:
        return await link.receive()
    delay = max(0, deadline - clock()) / 1000
    with anyio.move_on_after(delay):
        return await link.receive()
    return None
