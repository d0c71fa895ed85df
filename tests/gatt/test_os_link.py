"""What the bless and bleak links share (gatt.os_backend._link.OsLink), at the stack seam.

The stack is replaced only where the links call it (put a chunk on air, tell END, let the
connection go); the mailbox, the send template and the closing rules are the real ones. The
BlueZ VM tests (tests/bluez) drive both links over a real stack.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from gatt._mailbox import ThreadSafeMailbox
from gatt.errors import ChunkTooLarge, LinkClosed, LinkTimeout
from gatt.link import PeerInfo
from gatt.os_backend._link import OsLink

pytestmark = pytest.mark.anyio


class StackSeam(OsLink):
    """Records what the link asks of its stack; ``failure`` is raised by the next send."""

    def __init__(self, inbox: ThreadSafeMailbox[bytes]) -> None:
        peer = PeerInfo(address="", att_mtu=23, tag="t", info=None)
        super().__init__(inbox, peer=peer, max_chunk=20)
        self.on_air: list[bytes] = []
        self.ends_told = 0
        self.releases = 0
        self.failure: Exception | None = None

    async def _put_on_air(self, chunk: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        self.on_air.append(chunk)

    async def _end(self, *, tell_peer: bool) -> None:
        self.ends_told += tell_peer

    async def _release(self) -> None:
        self.releases += 1


def _link() -> tuple[StackSeam, ThreadSafeMailbox[bytes]]:
    inbox: ThreadSafeMailbox[bytes] = ThreadSafeMailbox(asyncio.get_running_loop())
    return StackSeam(inbox), inbox


async def test_send_refuses_an_empty_or_oversized_chunk_before_the_stack_sees_it() -> None:
    link, _ = _link()
    for chunk in (b"", bytes(21)):
        with pytest.raises(ChunkTooLarge):
            await link.send(chunk)
    await link.send(bytes(20))
    assert link.on_air == [bytes(20)]


async def test_send_after_the_peer_ended_raises_link_closed_and_puts_nothing_on_air() -> None:
    link, inbox = _link()
    inbox.close("the central ended the session")
    with pytest.raises(LinkClosed):
        await link.send(b"late")
    assert link.on_air == []


async def test_a_stack_failure_while_sending_is_link_closed_and_its_deadline_link_timeout() -> None:
    link, _ = _link()
    link.failure = RuntimeError("D-Bus said no")
    with pytest.raises(LinkClosed, match="D-Bus said no"):
        await link.send(b"x")
    link.failure = LinkTimeout("notification queue still full")
    with pytest.raises(LinkTimeout):
        await link.send(b"x")


async def test_chunks_fed_before_the_peers_end_are_received_then_link_closed_says_why() -> None:
    link, inbox = _link()

    def stack_thread() -> None:
        inbox.feed(b"a")
        inbox.feed(b"b")
        inbox.feed_close("peer left")

    feeder = threading.Thread(target=stack_thread)
    feeder.start()
    feeder.join()
    assert [await link.receive(), await link.receive()] == [b"a", b"b"]
    for _ in range(2):
        with pytest.raises(LinkClosed, match="peer left"):
            await link.receive()


async def test_aclose_tells_the_peer_end_once_and_releases_once() -> None:
    link, _ = _link()
    await link.aclose()
    await link.aclose()
    assert (link.ends_told, link.releases, link.closed) == (1, 1, True)
    with pytest.raises(LinkClosed, match="closed locally"):
        await link.receive()


async def test_aclose_after_the_peer_ended_does_not_tell_it_end_again() -> None:
    link, inbox = _link()
    inbox.close("the peripheral ended the session")
    await link.aclose()
    assert (link.ends_told, link.releases) == (0, 1)
    with pytest.raises(LinkClosed, match="the peripheral ended the session"):
        await link.receive()
