"""A BLE byte pipe: moves opaque chunks between one peripheral and one central.

Knows UUIDs, MTU, advertising and chunks; knows nothing of money (an import-linter contract
forbids importing ``protocol`` or ``p2ppay``). Backends (bleak, bless, bumble) are imported
lazily, only by the backend that needs them: importing ``gatt`` loads none of them.

Start here: :func:`open_peripheral` / :func:`open_central` (adapter strings in
:mod:`gatt.adapters`), the contract in :mod:`gatt.link`, the layout in :mod:`gatt.spec` and
``gatt/SERVICE.md``. One session each side, on any backend::

    # payer (peripheral)
    async with open_peripheral("virtual", info=Info(versions=(1,), max_message_size=65536)) as p:
        async with await p.accept(tag=new_session_tag()) as link:
            chunk = await link.receive()
            await link.send(reply[: link.max_chunk])

    # payee (central)
    async with open_central("virtual") as c:
        result = await c.find(within=10)          # or: async with c.scan() as results: ...
        async with await c.connect(result) as link:
            await link.send(request[: link.max_chunk])
            chunk = await link.receive()
"""

from __future__ import annotations

from gatt.adapters import DEFAULT_ADAPTER, open_central, open_peripheral, parse_adapter
from gatt.errors import (
    AdapterUnavailable,
    BadAdapter,
    ChunkTooLarge,
    ConnectFailed,
    GattError,
    LinkClosed,
    LinkErrorCode,
    LinkTimeout,
    ServiceMismatch,
)
from gatt.link import Central, Link, LinkOptions, PeerInfo, Peripheral, ScanResult
from gatt.spec import SERVICE, Info, ServiceSpec, max_chunk, new_session_tag

__all__ = [
    "DEFAULT_ADAPTER",
    "SERVICE",
    "AdapterUnavailable",
    "BadAdapter",
    "Central",
    "ChunkTooLarge",
    "ConnectFailed",
    "GattError",
    "Info",
    "Link",
    "LinkClosed",
    "LinkErrorCode",
    "LinkOptions",
    "LinkTimeout",
    "PeerInfo",
    "Peripheral",
    "ScanResult",
    "ServiceMismatch",
    "ServiceSpec",
    "max_chunk",
    "new_session_tag",
    "open_central",
    "open_peripheral",
    "parse_adapter",
]
