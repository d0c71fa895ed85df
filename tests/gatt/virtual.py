"""Shared test helper: a connected session on a Bumble virtual radio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from gatt.bumble_backend import BumbleCentral, BumblePeripheral, VirtualRadio
from gatt.link import Link, LinkOptions
from gatt.spec import Info, new_session_tag

INFO = Info(versions=(1, 2), max_message_size=65536)


async def connect_pair(
    peripheral: BumblePeripheral, central: BumbleCentral, tag: str | None = None
) -> tuple[Link, Link]:
    """Accept on ``peripheral`` and connect ``central`` to it; (central, peripheral) links."""
    tag = tag or new_session_tag()
    accepted: list[Link] = []

    async def accept() -> None:
        accepted.append(await peripheral.accept(tag=tag))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(accept)
            result = await central.find(tag=tag, within=5)
            central_link = await central.connect(result)
    return central_link, accepted[0]


@asynccontextmanager
async def session(
    *, mtu: int = 517, write_with_response: bool = False, radio: VirtualRadio | None = None
) -> AsyncIterator[tuple[Link, Link]]:
    """Both roles on one virtual radio and one session between them."""
    radio = radio or VirtualRadio()
    options = LinkOptions(max_att_mtu=mtu, write_with_response=write_with_response)
    async with (
        radio.open_peripheral(info=INFO, options=options) as peripheral,
        radio.open_central(options=options) as central,
    ):
        central_link, peripheral_link = await connect_pair(peripheral, central)
        async with central_link, peripheral_link:
            yield central_link, peripheral_link
