"""The sync client: a wallet's side of the ledger (see p2ppay/LEDGER.md).

- :class:`LedgerClient` / :class:`AdminClient` (``client``): the HTTP API, signed, retried.
- :func:`sync_outbox` (``outbox``): upload the outbox, apply the answers to the store.
- ``wallet_ops``: register (and remember the ledger URL), request an allowance.
"""

from __future__ import annotations

from p2ppay.sync.client import AdminClient, LedgerClient, RetryPolicy, SyncError
from p2ppay.sync.outbox import SyncReport, sync_outbox
from p2ppay.sync.wallet_ops import (
    ledger_url,
    register_wallet,
    remember_ledger,
    request_allowance,
)

__all__ = [
    "AdminClient",
    "LedgerClient",
    "RetryPolicy",
    "SyncError",
    "SyncReport",
    "ledger_url",
    "register_wallet",
    "remember_ledger",
    "request_allowance",
    "sync_outbox",
]
