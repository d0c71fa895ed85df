"""Exact adapter names for the OS stack, and the platform rule for ``os`` / ``hciN``.

bless 0.3.0 picks the first BlueZ adapter whose D-Bus path *contains* the requested name, so
``hci1`` can land on ``/org/bluez/hci10``. The backend resolves the name itself, exactly, and
hands bless the adapter it found (see :mod:`gatt.os_backend.bluez`).

Invariants:
- ``os`` means the platform's default adapter (``None`` to bless and bleak).
- ``hciN`` exists only on Linux (BlueZ) and matches ``/org/bluez/hciN`` and nothing else.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable

from gatt.errors import AdapterUnavailable, BadAdapter

__all__ = ["BLUEZ_ROOT", "bluez_path", "match_adapter", "stack_adapter"]

BLUEZ_ROOT = "/org/bluez/"
"""D-Bus path prefix of BlueZ adapters."""

_HCI = re.compile(r"hci[0-9]+")


def stack_adapter(adapter: str, *, platform: str = sys.platform) -> str | None:
    """The adapter name to give bless/bleak: None for ``os``, ``hciN`` on Linux.

    Raises BadAdapter for another string, AdapterUnavailable for ``hciN`` off Linux.
    """
    if adapter == "os":
        return None
    if not _HCI.fullmatch(adapter):
        raise BadAdapter(f"the os backend takes 'os' or 'hciN', not {adapter!r}")
    if platform != "linux":
        raise AdapterUnavailable(f"{adapter} names a BlueZ adapter; on {platform} use 'os'")
    return adapter


def bluez_path(name: str) -> str:
    """The D-Bus object path of the BlueZ adapter ``name``."""
    return BLUEZ_ROOT + name


def match_adapter(name: str, paths: Iterable[str]) -> str:
    """The one path in ``paths`` that is exactly adapter ``name``; AdapterUnavailable if none."""
    wanted = bluez_path(name)
    paths = list(paths)
    for path in paths:
        if path == wanted:
            return path
    raise AdapterUnavailable(f"no BlueZ adapter {name} (have: {', '.join(sorted(paths)) or '-'})")
