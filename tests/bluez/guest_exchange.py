"""Runs INSIDE the test-bed VM: one session of p2ppay's os backend, one role per process.

``python -m tests.bluez.guest_exchange ROLE DIR SESSION ADAPTER TAG`` runs the ``peripheral``
(bless) or the ``central`` (bleak) side of session SESSION with session tag TAG (drawn by the
orchestrator, so the central can scan before the peripheral advertises) on BlueZ adapter
ADAPTER and writes
``DIR/ROLE.json`` with what it saw (``DIR/ROLE.log`` has its log); the host test judges those
files, so nothing is judged here. :mod:`tests.bluez.guest_run` starts both roles of a session
as two processes (each its own BlueZ client, as on two phones; they share one bluetoothd).

Sessions (each with a fresh session tag):
- ``exchange``: 4 KB each way (random, split at ``max_chunk``; the central writes with ATT
  Write Commands); then the central closes, and the peripheral's next ``receive`` must raise
  LinkClosed.
- ``exchange_with_response``: the same with ATT Write Requests (``write_with_response``);
  then the peripheral closes, and the central's next ``receive`` must raise LinkClosed.

A record holds ``linked: true`` once the side's Link was open, so the orchestrator can tell a
failure to meet (advertising, scanning, connecting) from a failure of the Link itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from gatt import Info, LinkClosed, LinkOptions, open_central, open_peripheral
from gatt.link import Link

MESSAGE = 4096
STEP = 60.0  # seconds any one step may take inside the (slow, emulated) guest
FIND_WITHIN = STEP  # seconds the central scans for the tag (it starts before the peripheral)
INFO = Info(versions=(1,), max_message_size=65536)
SESSIONS = ("exchange", "exchange_with_response")
GO_FILE = "scanning"
"""Written into the session's folder once the central scans; the peripheral then advertises."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _send_message(link: Link, data: bytes) -> int:
    chunks = 0
    for start in range(0, len(data), link.max_chunk):
        await link.send(data[start : start + link.max_chunk])
        chunks += 1
    return chunks


async def _receive_message(link: Link, size: int, record: dict[str, Any]) -> bytes:
    data = b""
    record["received_chunks"] = chunks = []
    while len(data) < size:
        chunk = await link.receive()
        chunks.append(_digest(chunk)[:8])
        data += chunk
    return data


async def _closed_reason(link: Link) -> str:
    try:
        extra = await link.receive()
    except LinkClosed as error:
        return f"LinkClosed: {error.message}"
    return f"unexpected chunk of {len(extra)} bytes"


async def _exchange(link: Link, record: dict[str, Any]) -> None:
    outgoing = os.urandom(MESSAGE)
    step = link.max_chunk
    record.update(
        max_chunk=step,
        att_mtu=link.peer.att_mtu,
        sent=_digest(outgoing),
        sent_chunks=[_digest(outgoing[i : i + step])[:8] for i in range(0, len(outgoing), step)],
    )
    started = time.monotonic()
    sent, received = await asyncio.gather(
        _send_message(link, outgoing), _receive_message(link, MESSAGE, record)
    )
    record.update(
        chunks_sent=sent,
        received=_digest(received),
        received_length=len(received),
        seconds=round(time.monotonic() - started, 3),
    )


async def peripheral(
    folder: Path, session: str, adapter: str, tag: str, record: dict[str, Any]
) -> None:
    record.update(tag=tag, adapter=adapter)
    async with open_peripheral(adapter, info=INFO) as side:
        async with asyncio.timeout(STEP + FIND_WITHIN):
            # Advertise only once the central scans (the orchestrator writes GO_FILE then;
            # see tests.bluez.guest_run._await_scanning).
            while not (folder / GO_FILE).exists():  # noqa: ASYNC110 (another process writes it)
                await asyncio.sleep(0.1)
            link = await side.accept(tag=tag)
        record["linked"] = True
        async with link, asyncio.timeout(STEP):
            await _exchange(link, record)
            if session == "exchange":
                record["after_peer_close"] = await _closed_reason(link)
            # else: leaving the block closes the link from this side.


async def central(
    folder: Path, session: str, adapter: str, tag: str, record: dict[str, Any]
) -> None:
    options = LinkOptions(
        connect_timeout=STEP, write_with_response=session == "exchange_with_response"
    )
    record["adapter"] = adapter
    async with open_central(adapter, options=options) as side:
        async with asyncio.timeout(STEP + FIND_WITHIN):
            found = await side.find(tag=tag, within=FIND_WITHIN)
            started = time.monotonic()
            link = await side.connect(found)
            record.update(
                tag=found.tag,
                linked=True,
                connect_seconds=round(time.monotonic() - started, 3),
                info_versions=list(link.peer.info.versions) if link.peer.info else None,
            )
        async with link, asyncio.timeout(STEP):
            await _exchange(link, record)
            if session == "exchange_with_response":
                record["after_peer_close"] = await _closed_reason(link)
            # else: leaving the block closes the link from this side.


async def _run_role(role: str, out: Path, session: str, adapter: str, tag: str) -> None:
    record: dict[str, Any] = {}
    try:
        run = peripheral if role == "peripheral" else central
        await run(out, session, adapter, tag, record)
        record["ok"] = True
    except Exception as error:
        logging.exception("%s failed", role)
        record.update(ok=False, error=repr(error))
    (out / f"{role}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    role, folder, session_name, adapter_name, session_tag = sys.argv[1:6]
    logging.basicConfig(
        level=logging.DEBUG,
        format=f"%(relativeCreated)8.0f {role} %(name)s %(levelname)s %(message)s",
    )
    for noisy in ("dbus_next", "dbus_fast", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.INFO)
    asyncio.run(_run_role(role, Path(folder), session_name, adapter_name, session_tag))
