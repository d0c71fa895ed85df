"""The os backend's chunk inbox: ordered, thread-safe hand-over from bless/bleak callbacks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gatt.errors import LinkClosed
from gatt.os_backend.inbox import ChunkInbox

pytestmark = pytest.mark.anyio


async def test_chunks_fed_from_another_thread_arrive_in_feed_order() -> None:
    inbox = ChunkInbox(asyncio.get_running_loop())
    chunks = [bytes([i]) * (i + 1) for i in range(200)]
    # bless on macOS / Windows calls back on the stack's own thread.
    feeder = threading.Thread(target=lambda: [inbox.feed(chunk) for chunk in chunks])
    feeder.start()
    received = [await inbox.receive() for _ in chunks]
    feeder.join()
    assert received == chunks


async def test_close_fed_after_chunks_is_seen_only_once_they_are_consumed() -> None:
    inbox = ChunkInbox(asyncio.get_running_loop())
    feeder = threading.Thread(
        target=lambda: (inbox.feed(b"a"), inbox.feed(b"b"), inbox.feed_close("peer left"))
    )
    feeder.start()
    feeder.join()
    assert [await inbox.receive(), await inbox.receive()] == [b"a", b"b"]
    with pytest.raises(LinkClosed, match="peer left"):
        await inbox.receive()


async def test_receive_keeps_raising_link_closed_after_the_close() -> None:
    inbox = ChunkInbox(asyncio.get_running_loop())
    inbox.close("gone")
    for _ in range(2):
        with pytest.raises(LinkClosed):
            await inbox.receive()


async def test_a_waiting_receive_is_woken_by_a_close() -> None:
    inbox = ChunkInbox(asyncio.get_running_loop())
    waiting = asyncio.create_task(inbox.receive())
    await asyncio.sleep(0)
    inbox.feed_close("disconnected")
    with pytest.raises(LinkClosed, match="disconnected"):
        await waiting


async def test_chunks_fed_after_the_close_are_dropped() -> None:
    inbox = ChunkInbox(asyncio.get_running_loop())
    inbox.close("ended")
    inbox.put(b"late")
    with pytest.raises(LinkClosed):
        await inbox.receive()


async def test_feed_copies_the_callers_buffer() -> None:
    inbox = ChunkInbox(asyncio.get_running_loop())
    buffer = bytearray(b"abc")
    inbox.feed(buffer)
    buffer[:] = b"xyz"  # bleak and bless may reuse the bytearray they handed us
    assert await inbox.receive() == b"abc"
