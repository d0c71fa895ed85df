"""Benchmark: time and ATT PDUs to move a 2 KB message each way over the virtual radio.

Run: ``.venv/bin/python bench/link.py [--size 2048] [--repeat 5]``

For each ATT MTU (23, 185, 247, 517) and each direction (central to peripheral by write
without response, the fast path; peripheral to central by notification; and central to
peripheral by write with response, the fallback) it moves one message over a real Bumble
ATT/GATT stack on the in-process radio, counting every ATT PDU on the radio during the
transfer (requests, commands, notifications and responses alike). The baseline is the ideal,
ceil(bytes / (MTU - 3)) PDUs: one per chunk, no round trips. ``ratio`` = PDUs / ideal, so
1.00 means the pipe adds nothing. Times are wall-clock on the virtual radio (no connection
events), the median of ``--repeat`` runs. The last line is one JSON object with the raw figures.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import statistics
import time
from typing import Any

import anyio
from bumble.link import LocalLink

from gatt.bumble_backend import VirtualRadio
from gatt.link import Link, LinkOptions
from gatt.spec import Info, new_session_tag

MTUS = (23, 185, 247, 517)
ATT_CID = 0x0004


class CountingLink(LocalLink):
    """A Bumble LocalLink that counts the ATT PDUs it carries (L2CAP channel 4)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # bumble: LocalLink.__init__ unannotated
        self.att_pdus = 0

    def send_acl_data(
        self, sender_controller: Any, destination_address: Any, transport: Any, data: bytes
    ) -> None:
        # The virtual controller hands the link whole L2CAP PDUs: length (2), channel (2).
        if len(data) >= 5 and int.from_bytes(data[2:4], "little") == ATT_CID:
            self.att_pdus += 1
        super().send_acl_data(sender_controller, destination_address, transport, data)


async def _move(
    sender: Link, receiver: Link, message: bytes, counter: CountingLink
) -> tuple[float, int]:
    chunks = [message[i : i + sender.max_chunk] for i in range(0, len(message), sender.max_chunk)]
    counter.att_pdus = 0
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:

        async def send() -> None:
            for chunk in chunks:
                await sender.send(chunk)

        tg.start_soon(send)
        received = bytearray()
        while len(received) < len(message):
            received += await receiver.receive()
    elapsed = time.perf_counter() - start
    await anyio.sleep(0.01)  # let trailing responses land so they are counted
    if bytes(received) != message:
        raise SystemExit("message corrupted")
    return elapsed, counter.att_pdus


async def _measure(
    mtu: int, with_response: bool, size: int, repeat: int
) -> dict[str, dict[str, Any]]:
    counter = CountingLink()
    radio = VirtualRadio(local_link=counter)
    options = LinkOptions(max_att_mtu=mtu, write_with_response=with_response)
    info = Info(versions=(1,), max_message_size=65536)
    rows: dict[str, dict[str, Any]] = {}
    async with (
        radio.open_peripheral(info=info, options=options) as peripheral,
        radio.open_central(options=options) as central,
    ):
        tag = new_session_tag()
        accepted: list[Link] = []
        async with anyio.create_task_group() as tg:

            async def accept() -> None:
                accepted.append(await peripheral.accept(tag=tag))

            tg.start_soon(accept)
            central_link = await central.connect(await central.find(tag=tag, within=5))
        peripheral_link = accepted[0]
        directions = [
            (
                "c2s write-with-response" if with_response else "c2s write-command",
                central_link,
                peripheral_link,
            )
        ]
        if not with_response:
            directions.append(("s2c notify", peripheral_link, central_link))
        for name, sender, receiver in directions:
            times, pdus = [], []
            for _ in range(repeat):
                elapsed, count = await _move(sender, receiver, secrets.token_bytes(size), counter)
                times.append(elapsed)
                pdus.append(count)
            ideal = math.ceil(size / (mtu - 3 if mtu - 3 < 512 else 512))
            rows[name] = {
                "mtu": mtu,
                "direction": name,
                "bytes": size,
                "seconds_median": statistics.median(times),
                "att_pdus": max(pdus),
                "ideal_pdus": ideal,
                "pdus_per_kb": max(pdus) / (size / 1024),
                "ideal_pdus_per_kb": ideal / (size / 1024),
                "ratio": max(pdus) / ideal,
            }
        await central_link.aclose()
        await peripheral_link.aclose()
    return rows


async def main(size: int, repeat: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for mtu in MTUS:
        for with_response in (False, True):
            results.extend((await _measure(mtu, with_response, size, repeat)).values())
    return results


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'MTU':>4}  {'direction':<24} {'ms':>7} {'PDUs':>5} {'ideal':>5} "
        f"{'PDU/KB':>7} {'ideal/KB':>8} {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in sorted(results, key=lambda r: (r["mtu"], r["direction"])):
        lines.append(
            f"{r['mtu']:>4}  {r['direction']:<24} {r['seconds_median'] * 1000:>7.2f} "
            f"{r['att_pdus']:>5} {r['ideal_pdus']:>5} {r['pdus_per_kb']:>7.2f} "
            f"{r['ideal_pdus_per_kb']:>8.2f} {r['ratio']:>6.2f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="message size in bytes")
    parser.add_argument("--repeat", type=int, default=5, help="runs per row (median time)")
    args = parser.parse_args()
    figures = anyio.run(main, args.size, args.repeat)
    print(
        f"moving {args.size} bytes each way over the Bumble virtual radio "
        f"(ATT PDUs counted on the radio; ideal = ceil(bytes / (MTU - 3)))"
    )
    print(_table(figures))
    print(
        json.dumps(
            {"bench": "gatt.link", "bytes": args.size, "repeat": args.repeat, "results": figures}
        )
    )
