"""p2ppay's wire protocol, sans-I/O: bytes and time in, bytes and events out.

This package never touches BLE, asyncio or the disk (an import-linter contract enforces it),
so every rule here is shared verbatim by the payer, the payee and the ledger.
"""

from __future__ import annotations

from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = ["ErrorCode", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
