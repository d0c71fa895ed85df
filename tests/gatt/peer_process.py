"""One side of a two-process exchange, run as ``python -m tests.gatt.peer_process``.

    python -m tests.gatt.peer_process peripheral|central ADAPTER TAG [SIZE]

Each side sends SIZE bytes derived from the tag and its role, receives the other side's SIZE
bytes, checks them, and prints one JSON line: role, bytes received, whether they matched, the
ATT MTU and max_chunk in force. Exit status 0 only if the received bytes matched. Used by the
TCP-hosted link test and the opt-in hardware test.
"""

from __future__ import annotations

import hashlib
import json
import sys

import anyio

from gatt import Info, Link, LinkClosed, open_central, open_peripheral
from tests.gatt.exchange import receive_message, send_message

INFO = Info(versions=(1,), max_message_size=65536)
TIMEOUT = 60.0


def payload(tag: str, role: str, size: int) -> bytes:
    """The bytes ``role`` sends in session ``tag``: both processes can compute them."""
    return hashlib.shake_256(f"{tag}:{role}".encode()).digest(size)


async def _exchange(link: Link, role: str, tag: str, size: int) -> dict[str, object]:
    other = "central" if role == "peripheral" else "peripheral"
    received: list[bytes] = []

    async def collect() -> None:
        received.append(await receive_message(link, size))

    async with anyio.create_task_group() as tg:
        tg.start_soon(collect)
        await send_message(link, payload(tag, role, size))
    return {
        "role": role,
        "received": len(received[0]),
        "match": received[0] == payload(tag, other, size),
        "att_mtu": link.peer.att_mtu,
        "max_chunk": link.max_chunk,
    }


async def run(role: str, adapter: str, tag: str, size: int) -> dict[str, object]:
    """Play ``role`` on ``adapter`` for one session and report."""
    with anyio.fail_after(TIMEOUT):
        if role == "peripheral":
            async with open_peripheral(adapter, info=INFO) as peripheral:
                link = await peripheral.accept(tag=tag)
                report = await _exchange(link, role, tag, size)
                # Whoever received everything hangs up: the peripheral, once both directions
                # are done. Closing on the sending side could drop chunks still in flight.
                await link.aclose()
                return report
        async with open_central(adapter) as central:
            result = await central.find(tag=tag, within=TIMEOUT / 2)
            async with await central.connect(result) as link:
                report = await _exchange(link, role, tag, size)
                report["info_ok"] = link.peer.info == INFO
                # Wait for the peripheral to hang up once it has our bytes too.
                try:
                    while True:
                        await link.receive()
                except LinkClosed:
                    pass
                return report


def main(argv: list[str]) -> int:
    role, adapter, tag = argv[:3]
    size = int(argv[3]) if len(argv) > 3 else 4096
    report = anyio.run(run, role, adapter, tag, size)
    print(json.dumps(report), flush=True)
    return 0 if report["match"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
