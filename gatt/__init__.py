"""A BLE byte pipe: moves opaque chunks between one peripheral and one central.

Knows UUIDs, MTU, advertising and chunks; knows nothing of money (an import-linter contract
forbids importing ``protocol`` or ``p2ppay``). Backends (bleak, bless, bumble) are imported
lazily, only by the backend that needs them: importing ``gatt`` loads none of them.

Start here: :func:`open_peripheral` / :func:`open_central` (adapter strings in
:mod:`gatt.adapters`), the contract in :mod:`gatt.link`, the layout in :mod:`gatt.spec`.
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
