"""Shared test helper: move a message each way over a connected Link pair and check it."""

from __future__ import annotations

import secrets

import anyio

from gatt.link import Link


def split(message: bytes, size: int) -> list[bytes]:
    """``message`` in chunks of at most ``size`` bytes."""
    return [message[i : i + size] for i in range(0, len(message), size)]


async def send_message(link: Link, message: bytes) -> int:
    """Send ``message`` in max_chunk pieces; return how many chunks it took."""
    chunks = split(message, link.max_chunk)
    for chunk in chunks:
        await link.send(chunk)
    return len(chunks)


async def receive_message(link: Link, size: int) -> bytes:
    """Receive chunks until ``size`` bytes arrived."""
    received = bytearray()
    while len(received) < size:
        received += await link.receive()
    return bytes(received)


async def exchange_both_ways(central: Link, peripheral: Link, size: int) -> tuple[bytes, bytes]:
    """Send ``size`` random bytes each way at once; return what each side received
    (central's, peripheral's) and assert both match what was sent."""
    up, down = secrets.token_bytes(size), secrets.token_bytes(size)
    got: dict[str, bytes] = {}

    async def collect(key: str, link: Link) -> None:
        got[key] = await receive_message(link, size)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(collect, "peripheral", peripheral)
            tg.start_soon(collect, "central", central)
            tg.start_soon(send_message, central, up)
            tg.start_soon(send_message, peripheral, down)
    assert got["peripheral"] == up
    assert got["central"] == down
    return got["central"], got["peripheral"]
