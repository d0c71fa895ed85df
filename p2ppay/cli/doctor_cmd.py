"""``p2ppay doctor``: which BLE backends and adapters work on this machine.

Each backend is probed for real, not guessed: ``virtual`` runs a connect and a round trip
on an in-process radio; ``os`` looks for BlueZ's D-Bus socket (Linux), lists the adapters
and reads each one's LE privacy setting from the kernel (off: ``pay --adapter os`` refuses
to advertise from the adapter's fixed address, and the detail says how to turn it on);
``bumble:usb`` lists USB Bluetooth controllers through libusb.
It also shows this wallet's trust, if the home holds a wallet: the pinned ledger key's
fingerprint and the revocation list's age (stale lists lower the offline limits).
Exit 0 when at least one backend works.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any

import anyio

from p2ppay.cli.common import add_json, home_of, now_s
from p2ppay.cli.limits_cmd import list_age_line, trust_json
from p2ppay.cli.output import Exit, Output

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = subparsers.add_parser("doctor", help="check which BLE backends work here")
    add_json(doctor)
    doctor.set_defaults(handler=run)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


async def _probe_virtual() -> dict[str, Any]:
    if not _installed("bumble"):
        return {"ok": False, "detail": "bumble is not installed (pip install 'p2ppay[bumble]')"}
    from gatt.bumble_backend import VirtualRadio
    from gatt.spec import Info, new_session_tag

    radio = VirtualRadio()
    tag = new_session_tag()
    with anyio.fail_after(10):
        async with (
            radio.open_peripheral(info=Info(versions=(1,), max_message_size=1024)) as periph,
            radio.open_central() as central,
        ):
            links = []

            async def accept() -> None:
                links.append(await periph.accept(tag=tag))

            async with anyio.create_task_group() as tg:
                tg.start_soon(accept)
                link = await central.connect(await central.find(tag=tag, within=5))
            async with link, links[0]:
                await link.send(b"ping")
                assert await links[0].receive() == b"ping"
            mtu = link.peer.att_mtu
    return {"ok": True, "detail": f"connect and round trip on the in-process radio, MTU {mtu}"}


def _probe_os() -> dict[str, Any]:
    missing = [m for m in ("bleak", "bless") if not _installed(m)]
    if missing:
        return {"ok": False, "detail": f"not installed: {', '.join(missing)}"}
    if sys.platform.startswith("linux"):
        socket_path = "/run/dbus/system_bus_socket"
        if not os.path.exists(socket_path):
            return {"ok": False, "detail": f"no D-Bus system bus ({socket_path}): no BlueZ"}
        adapters = (
            sorted(os.listdir("/sys/class/bluetooth"))
            if os.path.isdir("/sys/class/bluetooth")
            else []
        )
        if not adapters:
            return {"ok": False, "detail": "BlueZ reachable but no adapter in /sys/class/bluetooth"}
        privacy = _privacy(adapters)
        return {
            "ok": True,
            "detail": f"adapters: {', '.join(adapters)}; {_describe_privacy(privacy)}",
            "adapters": adapters,
            "privacy": privacy,
        }
    return {"ok": True, "detail": f"bleak and bless installed for {sys.platform}"}


def _privacy(adapters: list[str]) -> dict[str, bool | None]:
    """Each adapter's LE privacy: True (random addresses), False (fixed address), None."""
    from gatt.os_backend.privacy import adapter_index, privacy_enabled

    out: dict[str, bool | None] = {}
    for name in adapters:
        index = adapter_index(name)
        out[name] = None if index is None else privacy_enabled(index)
    return out


def _describe_privacy(privacy: dict[str, bool | None]) -> str:
    from gatt.os_backend.privacy import HOW_TO_ENABLE

    on = [name for name, private in privacy.items() if private]
    off = [name for name, private in privacy.items() if not private]
    parts = [f"privacy on: {', '.join(on)}"] if on else []
    if off:
        parts.append(
            f"privacy off or unknown: {', '.join(off)} (the payer refuses to advertise there; "
            + HOW_TO_ENABLE.format(name=off[0])
            + ")"
        )
    return "; ".join(parts)


def _probe_usb() -> dict[str, Any]:
    if not _installed("usb1"):
        return {"ok": False, "detail": "libusb1 is not installed"}
    import usb1

    try:
        with usb1.USBContext() as context:
            found = [
                f"{d.getVendorID():04x}:{d.getProductID():04x}"
                for d in context.getDeviceIterator(skip_on_error=True)
                if d.getDeviceClass() == 0xE0  # Wireless Controller: Bluetooth
            ]
    except usb1.USBError as exc:
        return {"ok": False, "detail": f"libusb: {exc}"}
    if not found:
        return {"ok": False, "detail": "no USB Bluetooth controller found"}
    names = [f"bumble:usb:{i}" for i in range(len(found))]
    return {"ok": True, "detail": f"controllers {', '.join(found)}", "adapters": names}


def run(args: argparse.Namespace, out: Output) -> int:
    try:
        virtual = anyio.run(_probe_virtual)
    except Exception as exc:  # a probe must report, never crash the doctor
        virtual = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    checks = {"virtual": virtual, "os": _probe_os(), "bumble:usb": _probe_usb()}
    lines = [f"{'ok ' if c['ok'] else 'no '} {name:11} {c['detail']}" for name, c in checks.items()]
    trust = trust_json(home_of(args), now=now_s())
    if trust is not None:
        lines.append(list_age_line(trust))
        pinned = trust["fingerprint"] or "none pinned (run `p2ppay register` or `trust-ledger`)"
        lines.append(f"ledger key: {pinned}")
    out.result({"backends": checks, "trust": trust}, lines)
    return Exit.OK if any(c["ok"] for c in checks.values()) else Exit.FAILED
