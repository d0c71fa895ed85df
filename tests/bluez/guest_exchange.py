"""Runs INSIDE the test-bed VM: p2ppay's os backend, bless on hci0 and bleak on hci1.

``python -m tests.bluez.guest_exchange main OUT`` starts the peripheral and the central as two
processes (each its own BlueZ client, as on two phones; they share one bluetoothd here) and
waits for both. Each role writes ``OUT/<role>.json`` with what it saw; the host test asserts on
those files, so nothing is judged inside the guest.

Sessions, in order, in one boot (each with a fresh session tag):
1. ``exchange``: 4 KB each way (random, split at ``max_chunk``; the central writes with ATT
   Write Commands); then the central closes, and the peripheral's next ``receive`` must raise
   LinkClosed.
2. ``exchange_with_response``: the same with ATT Write Requests (``write_with_response``);
   then the peripheral closes, and the central's next ``receive`` must raise LinkClosed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gatt import Info, LinkClosed, LinkOptions, open_central, open_peripheral
from gatt.link import Link, Peripheral
from gatt.spec import new_session_tag

MESSAGE = 4096
STEP = 60.0  # seconds any one step may take inside the (slow, emulated) guest
INFO = Info(versions=(1,), max_message_size=65536)
SESSIONS = ("exchange", "exchange_with_response")


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


async def _peripheral_session(
    side: Peripheral, out: Path, session: str, record: dict[str, Any]
) -> None:
    tag = new_session_tag()
    record["tag"] = tag
    async with asyncio.timeout(STEP):
        accepting = asyncio.create_task(side.accept(tag=tag))
        await asyncio.sleep(0.5)  # let the advertisement register before announcing it
        (out / f"{session}.tag").write_text(tag)
        link = await accepting
    async with link, asyncio.timeout(STEP):
        await _exchange(link, record)
        if session == "exchange":
            record["after_peer_close"] = await _closed_reason(link)
        # else: leaving the block closes the link from this side.


async def peripheral(out: Path, result: dict[str, Any]) -> None:
    async with open_peripheral("hci0", info=INFO) as side:
        for session in SESSIONS:
            record: dict[str, Any] = result.setdefault(session, {})
            try:
                await _peripheral_session(side, out, session, record)
            except Exception as error:
                logging.exception("peripheral session %s failed", session)
                record["error"] = repr(error)


async def _wait_for_tag(out: Path, session: str) -> str:
    path = out / f"{session}.tag"
    while not path.exists():  # noqa: ASYNC110 (another process writes it)
        await asyncio.sleep(0.1)
    return path.read_text().strip()


async def _central_session(out: Path, session: str, record: dict[str, Any]) -> None:
    options = LinkOptions(
        connect_timeout=STEP, write_with_response=session == "exchange_with_response"
    )
    async with open_central("hci1", options=options) as side:
        async with asyncio.timeout(STEP):
            tag = await _wait_for_tag(out, session)
            found = await side.find(tag=tag, within=STEP)
            started = time.monotonic()
            link = await side.connect(found)
            record.update(
                tag=found.tag,
                connect_seconds=round(time.monotonic() - started, 3),
                info_versions=list(link.peer.info.versions) if link.peer.info else None,
            )
        async with link, asyncio.timeout(STEP):
            await _exchange(link, record)
            if session == "exchange_with_response":
                record["after_peer_close"] = await _closed_reason(link)
            # else: leaving the block closes the link from this side.


async def _forget_peers(adapter: str) -> None:
    """Remove every device hci1's bluetoothd remembers (test-bed only).

    bless on BlueZ advertises from the controller's fixed address (btvirt refuses privacy), and
    btvirt's RSSI never changes: once bluetoothd knows the device, a new advertisement with a new
    tag may raise no D-Bus signal, so bleak reports nothing. Real peripherals rotate random
    addresses, so each session is a new device; forgetting the device here gives the same.
    """
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/",
                interface="org.freedesktop.DBus.ObjectManager",
                member="GetManagedObjects",
            )
        )
        prefix = f"/org/bluez/{adapter}/dev_"
        for path, interfaces in (reply.body[0] if reply else {}).items():
            if path.startswith(prefix) and "org.bluez.Device1" in interfaces:
                await bus.call(
                    Message(
                        destination="org.bluez",
                        path=f"/org/bluez/{adapter}",
                        interface="org.bluez.Adapter1",
                        member="RemoveDevice",
                        signature="o",
                        body=[path],
                    )
                )
    finally:
        bus.disconnect()


async def central(out: Path, result: dict[str, Any]) -> None:
    for session in SESSIONS:
        record: dict[str, Any] = result.setdefault(session, {})
        try:
            await _central_session(out, session, record)
        except Exception as error:
            logging.exception("central session %s failed", session)
            record["error"] = repr(error)
        await _forget_peers("hci1")


async def _run_role(role: str, out: Path) -> None:
    record: dict[str, Any] = {}
    try:
        await (peripheral(out, record) if role == "peripheral" else central(out, record))
        record["ok"] = True
    except Exception as error:
        logging.exception("%s failed", role)
        record.update(ok=False, error=repr(error))
    (out / f"{role}.json").write_text(json.dumps(record, indent=1))


def main(out: Path) -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "tests.bluez.guest_exchange"]
    with (out / "peripheral.log").open("w") as plog, (out / "central.log").open("w") as clog:
        server = subprocess.Popen([*argv, "peripheral", str(out)], stderr=plog, env=env)
        client = subprocess.Popen([*argv, "central", str(out)], stderr=clog, env=env)
        rc = client.wait(timeout=STEP * 6) or server.wait(timeout=STEP * 2)
    for name in ("peripheral", "central"):
        print(f"--- {name} ---\n{(out / f'{name}.json').read_text()}", flush=True)
    return rc


if __name__ == "__main__":
    role, folder = sys.argv[1], Path(sys.argv[2])
    if role == "main":
        sys.exit(main(folder))
    logging.basicConfig(
        level=logging.DEBUG,
        format=f"%(relativeCreated)8.0f {role} %(name)s %(levelname)s %(message)s",
    )
    for noisy in ("dbus_next", "dbus_fast", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.INFO)
    asyncio.run(_run_role(role, folder))
