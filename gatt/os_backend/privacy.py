"""Whether BlueZ advertises from random addresses: the kernel's LE privacy setting.

bless registers advertisements through bluetoothd, which has no per-advertisement address
choice: the kernel advertises from a resolvable private address (fresh every rotation) when
the adapter's *privacy* setting is on, else from the adapter's own fixed address (public,
or a static random address that lasts until the next power cycle): an identifier that links
every session of the payer. This module reads that setting with the kernel's Bluetooth
management interface (``MGMT_OP_READ_INFO`` on the control channel, a command the kernel
answers on an unprivileged socket), without bluetoothd and without root.

Turning privacy on (needs root), either:

- ``Privacy = device`` in the ``[General]`` section of ``/etc/bluetooth/main.conf``, then
  ``systemctl restart bluetooth``; or
- ``btmgmt -i hciN power off; btmgmt -i hciN privacy on; btmgmt -i hciN power on``.

Invariants: nothing here changes the adapter; every failure to ask reads as "unknown"
(None), which callers treat as "not private".
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import select
import socket
import struct
import time
from typing import Final

__all__ = ["HOW_TO_ENABLE", "adapter_index", "privacy_enabled"]

AF_BLUETOOTH: Final = 31
BTPROTO_HCI: Final = 1
HCI_CHANNEL_CONTROL: Final = 3
HCI_DEV_NONE: Final = 0xFFFF
MGMT_OP_READ_INFO: Final = 0x0004
MGMT_EV_CMD_COMPLETE: Final = 0x0001
MGMT_EV_CMD_STATUS: Final = 0x0002
MGMT_SETTING_PRIVACY: Final = 1 << 13
_CURRENT_SETTINGS: Final = slice(13, 17)
"""In READ_INFO's reply: address (6), version (1), manufacturer (2), supported (4), current (4)."""

HOW_TO_ENABLE: Final = (
    "enable BlueZ privacy (random addresses): set 'Privacy = device' under [General] in "
    "/etc/bluetooth/main.conf and restart bluetooth, or run 'btmgmt -i {name} power off; "
    "btmgmt -i {name} privacy on; btmgmt -i {name} power on'; or accept a traceable "
    "address with --allow-public-address"
)
"""What to tell a user whose adapter ``name`` advertises from its fixed address."""

_HCI = re.compile(r"(?:^|/)hci([0-9]+)$")


def adapter_index(name_or_path: str) -> int | None:
    """The controller index of ``hciN`` or ``/org/bluez/hciN``, else None."""
    match = _HCI.search(name_or_path)
    return int(match.group(1)) if match else None


def _control_socket() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = int(libc.socket(AF_BLUETOOTH, socket.SOCK_RAW | socket.SOCK_CLOEXEC, BTPROTO_HCI))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "no Bluetooth management socket")
    address = struct.pack("<HHH", AF_BLUETOOTH, HCI_DEV_NONE, HCI_CHANNEL_CONTROL)
    if libc.bind(fd, address, len(address)) < 0:
        errno = ctypes.get_errno()
        os.close(fd)
        raise OSError(errno, "cannot bind the Bluetooth management channel")
    return fd


def _read_settings(fd: int, index: int, timeout: float) -> int | None:
    os.write(fd, struct.pack("<HHH", MGMT_OP_READ_INFO, index, 0))
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            return None
        packet = os.read(fd, 1024)
        if len(packet) < 9:
            continue
        event, event_index, _ = struct.unpack_from("<HHH", packet)
        opcode, status = struct.unpack_from("<HB", packet, 6)
        if event_index != index or opcode != MGMT_OP_READ_INFO:
            continue  # another event on the shared control channel
        if event == MGMT_EV_CMD_STATUS or status != 0:
            return None
        if event == MGMT_EV_CMD_COMPLETE:
            params = packet[9:]
            if len(params) < _CURRENT_SETTINGS.stop:
                return None
            (current,) = struct.unpack("<I", params[_CURRENT_SETTINGS])
            return int(current)
    return None


def privacy_enabled(index: int, *, timeout: float = 1.0) -> bool | None:
    """True if controller ``index`` has LE privacy on, False if off, None if unknown.

    Blocking (a local socket round trip, at most ``timeout`` seconds); off Linux, without
    the kernel's Bluetooth support or for an unknown index: None.
    """
    try:
        fd = _control_socket()
    except (OSError, AttributeError):
        return None
    try:
        settings = _read_settings(fd, index, timeout)
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return None if settings is None else bool(settings & MGMT_SETTING_PRIVACY)
