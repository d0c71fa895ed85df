"""The one mailbox: ordered hand-over from stack callbacks, thread-safe for bless/bleak."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gatt._mailbox import Mailbox, MailboxClosed, ThreadSafeMailbox

pytestmark = pytest.mark.anyio


async def test_chunks_fed_from_another_thread_arrive_in_feed_order() -> None:
    inbox: ThreadSafeMailbox[bytes] = ThreadSafeMailbox(asyncio.get_running_loop())
    chunks = [bytes([i]) * (i + 1) for i in range(200)]

    # bless on macOS / Windows calls back on the stack's own thread.
    def stack_thread() -> None:
        for chunk in chunks:
            inbox.feed(chunk)

    feeder = threading.Thread(target=stack_thread)
    feeder.start()
    received = [await inbox.get() for _ in chunks]
    feeder.join()
    assert received == chunks


async def test_close_fed_after_chunks_is_seen_only_once_they_are_consumed() -> None:
    inbox: ThreadSafeMailbox[bytes] = ThreadSafeMailbox(asyncio.get_running_loop())

    def stack_thread() -> None:
        inbox.feed(b"a")
        inbox.feed(b"b")
        inbox.feed_close("peer left")

    feeder = threading.Thread(target=stack_thread)
    feeder.start()
    feeder.join()
    assert [await inbox.get(), await inbox.get()] == [b"a", b"b"]
    with pytest.raises(MailboxClosed, match="peer left"):
        await inbox.get()


async def test_a_mailbox_made_on_a_stack_thread_is_drained_on_the_loop() -> None:
    # bless's START callback may run on the stack's thread and makes the session's mailbox.
    loop = asyncio.get_running_loop()
    made: list[ThreadSafeMailbox[bytes]] = []

    def on_stack_thread() -> None:
        inbox: ThreadSafeMailbox[bytes] = ThreadSafeMailbox(loop)
        made.append(inbox)
        inbox.feed(b"first")

    feeder = threading.Thread(target=on_stack_thread)
    feeder.start()
    feeder.join()
    assert await made[0].get() == b"first"


async def test_get_keeps_raising_after_the_close() -> None:
    inbox: Mailbox[bytes] = Mailbox()
    inbox.close("gone")
    for _ in range(2):
        with pytest.raises(MailboxClosed, match="gone"):
            await inbox.get()


async def test_the_first_close_reason_wins() -> None:
    inbox: Mailbox[bytes] = Mailbox()
    inbox.close("the peer ended the session")
    inbox.close("closed locally")
    with pytest.raises(MailboxClosed, match="the peer ended the session"):
        await inbox.get()


async def test_a_waiting_get_is_woken_by_a_close() -> None:
    inbox: ThreadSafeMailbox[bytes] = ThreadSafeMailbox(asyncio.get_running_loop())
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.feed_close("disconnected")
    with pytest.raises(MailboxClosed, match="disconnected"):
        await waiting


async def test_every_waiting_reader_is_woken() -> None:
    inbox: Mailbox[int] = Mailbox()
    readers = [asyncio.create_task(inbox.get()) for _ in range(2)]
    await asyncio.sleep(0)
    inbox.put(1)
    inbox.put(2)
    assert sorted(await asyncio.gather(*readers)) == [1, 2]


async def test_items_put_after_the_close_are_dropped() -> None:
    inbox: Mailbox[bytes] = Mailbox()
    inbox.close("ended")
    assert inbox.put(b"late") is False
    with pytest.raises(MailboxClosed):
        await inbox.get()


async def test_a_cancelled_get_takes_nothing() -> None:
    inbox: Mailbox[bytes] = Mailbox()
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    inbox.put(b"kept")
    assert await inbox.get() == b"kept"
