"""A BLE byte pipe: moves opaque chunks between one peripheral and one central.

Knows UUIDs, MTU, advertising and chunks; knows nothing of money (an import-linter contract
forbids importing ``protocol`` or ``p2ppay``). Backends (bleak, bless, bumble) are imported
lazily, only by the backend that needs them.
"""

from __future__ import annotations

__all__: list[str] = []
