"""The Bumble backend: ``virtual`` (in-process radio) and ``bumble:<transport>`` adapters.

Imports Bumble, so only :mod:`gatt.adapters` imports this package, and only on demand.
Exposes the two backend factories of :class:`gatt.adapters.BackendModule`, plus
:class:`VirtualRadio` for tests, benchmarks and the demo that want both roles on one radio
they hold.
"""

from __future__ import annotations

from gatt.bumble_backend.central import BumbleCentral
from gatt.bumble_backend.hosts import TransportHost, VirtualHost, VirtualRadio, loop_radio
from gatt.bumble_backend.peripheral import BumblePeripheral
from gatt.errors import BadAdapter
from gatt.link import Central, LinkOptions, Peripheral
from gatt.spec import Info, ServiceSpec

__all__ = [
    "BumbleCentral",
    "BumblePeripheral",
    "VirtualRadio",
    "loop_radio",
    "open_central",
    "open_peripheral",
]


def _host(adapter: str) -> VirtualHost | TransportHost:
    if adapter == "virtual":
        return VirtualHost(None)
    if adapter.startswith("bumble:") and len(adapter) > len("bumble:"):
        return TransportHost(adapter[len("bumble:") :])
    raise BadAdapter(f"not a Bumble adapter: {adapter!r}")


def open_peripheral(
    adapter: str, *, spec: ServiceSpec, info: Info, options: LinkOptions
) -> Peripheral:
    """An unstarted Bumble peripheral for ``virtual`` or ``bumble:<transport>``."""
    return BumblePeripheral(host=_host(adapter), spec=spec, info=info, options=options)


def open_central(adapter: str, *, spec: ServiceSpec, options: LinkOptions) -> Central:
    """An unstarted Bumble central for ``virtual`` or ``bumble:<transport>``."""
    return BumbleCentral(host=_host(adapter), spec=spec, options=options)
