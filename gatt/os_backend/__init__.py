"""The ``os`` backend: bless (peripheral) and bleak (central) on the operating system's stack.

Adapter strings: ``os`` (the platform default adapter) or ``hciN`` (exactly that BlueZ
adapter, Linux only). This package is imported only when one of those is chosen
(:mod:`gatt.adapters`); bless and bleak themselves load on ``start``.

Modules: :mod:`~gatt.os_backend.peripheral` (bless), :mod:`~gatt.os_backend.central` (bleak),
:mod:`~gatt.os_backend._link` (what both links share; chunks arrive through
:class:`gatt._mailbox.ThreadSafeMailbox`, a thread-safe ordered hand-over),
:mod:`~gatt.os_backend.retry` (documented retries), :mod:`~gatt.os_backend.names` and
:mod:`~gatt.os_backend.bluez` (BlueZ specifics).

Invariants: the factories do no I/O; the peripheral runs on BlueZ only for now, the central
wherever bleak runs.
"""

from __future__ import annotations

from gatt.link import Central, LinkOptions, Peripheral
from gatt.os_backend.central import BleakCentral
from gatt.os_backend.peripheral import BlessPeripheral
from gatt.spec import Info, ServiceSpec

__all__ = ["open_central", "open_peripheral"]


def open_peripheral(
    adapter: str, *, spec: ServiceSpec, info: Info, options: LinkOptions
) -> Peripheral:
    """An unstarted bless peripheral on ``adapter`` (``os`` or ``hciN``)."""
    return BlessPeripheral(adapter, spec=spec, info=info, options=options)


def open_central(adapter: str, *, spec: ServiceSpec, options: LinkOptions) -> Central:
    """An unstarted bleak central on ``adapter`` (``os`` or ``hciN``)."""
    return BleakCentral(adapter, spec=spec, options=options)
