"""Choose a backend from an adapter string and import it lazily.

Adapter strings::

    virtual               Bumble devices on the in-process virtual radio (default)
    bumble:<transport>    a Bumble host on any Bumble transport: bumble:usb:0,
                          bumble:tcp-client:127.0.0.1:9101, bumble:serial:/dev/ttyACM0,
                          bumble:hci-socket:0
    os | hci0 | hci1 ...  bless (peripheral) + bleak (central) on the OS stack
    memory[:k=v,...]      in-process anyio streams with fault injection (unit tests only)

Invariants:
- Importing this module imports no BLE stack; the chosen backend module is imported on the
  first ``open_*`` call, so ``bumble``/``bleak``/``bless`` load only when asked for.
- Each backend module (``gatt.memory``, ``gatt.bumble_backend``, ``gatt.os_backend``) exposes
  the two factories of :class:`BackendModule`, called with the full adapter string unchanged
  (``"os"``, ``"hci1"``, ``"bumble:usb:0"``...).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Protocol, cast

from gatt.errors import AdapterUnavailable, BadAdapter
from gatt.link import Central, LinkOptions, Peripheral
from gatt.spec import SERVICE, Info, ServiceSpec

__all__ = [
    "DEFAULT_ADAPTER",
    "AdapterChoice",
    "BackendModule",
    "open_central",
    "open_peripheral",
    "parse_adapter",
]

DEFAULT_ADAPTER = "virtual"
"""The adapter the demo and the test suite use."""

_HCI = re.compile(r"hci[0-9]+")


class BackendModule(Protocol):
    """What a backend module must expose (module-level functions with these signatures)."""

    def open_peripheral(
        self, adapter: str, *, spec: ServiceSpec, info: Info, options: LinkOptions
    ) -> Peripheral:
        """An unstarted Peripheral on ``adapter`` serving ``spec`` with this Info."""
        ...

    def open_central(self, adapter: str, *, spec: ServiceSpec, options: LinkOptions) -> Central:
        """An unstarted Central on ``adapter`` looking for ``spec``."""
        ...


@dataclass(frozen=True, kw_only=True)
class AdapterChoice:
    """A parsed adapter string."""

    backend: str
    """``memory``, ``virtual``, ``bumble`` or ``os``."""
    module: str
    """The backend module to import."""
    adapter: str
    """The adapter string as given, passed on to the backend's factories."""


def parse_adapter(adapter: str) -> AdapterChoice:
    """Which backend serves ``adapter``; BadAdapter if none does."""
    if adapter == "virtual":
        return AdapterChoice(backend="virtual", module="gatt.bumble_backend", adapter=adapter)
    if adapter.startswith("bumble:"):
        if not adapter[len("bumble:") :]:
            raise BadAdapter("bumble: needs a transport, e.g. bumble:usb:0")
        return AdapterChoice(backend="bumble", module="gatt.bumble_backend", adapter=adapter)
    if adapter == "os" or _HCI.fullmatch(adapter):
        return AdapterChoice(backend="os", module="gatt.os_backend", adapter=adapter)
    if adapter == "memory" or adapter.startswith("memory:"):
        return AdapterChoice(backend="memory", module="gatt.memory", adapter=adapter)
    raise BadAdapter(
        f"unknown adapter {adapter!r}: use virtual, bumble:<transport>, os, hciN or memory"
    )


def _backend(choice: AdapterChoice) -> BackendModule:
    try:
        module = importlib.import_module(choice.module)
    except ImportError as error:
        extra = "ble" if choice.backend == "os" else "bumble"
        raise AdapterUnavailable(
            f"backend {choice.backend} is not installed ({error}): pip install 'p2ppay[{extra}]'"
        ) from error
    return cast(BackendModule, module)


def open_peripheral(
    adapter: str = DEFAULT_ADAPTER,
    *,
    info: Info,
    spec: ServiceSpec = SERVICE,
    options: LinkOptions | None = None,
) -> Peripheral:
    """An unstarted Peripheral on ``adapter``; use it with ``async with``."""
    choice = parse_adapter(adapter)
    return _backend(choice).open_peripheral(
        choice.adapter, spec=spec, info=info, options=options or LinkOptions()
    )


def open_central(
    adapter: str = DEFAULT_ADAPTER,
    *,
    spec: ServiceSpec = SERVICE,
    options: LinkOptions | None = None,
) -> Central:
    """An unstarted Central on ``adapter``; use it with ``async with``."""
    choice = parse_adapter(adapter)
    return _backend(choice).open_central(
        choice.adapter, spec=spec, options=options or LinkOptions()
    )
