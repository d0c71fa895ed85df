"""The sync client: a wallet's side of the ledger (see p2ppay/LEDGER.md).

- :class:`LedgerClient` / :class:`AdminClient` (``client``): the HTTP API, signed, retried.
- :func:`sync_outbox` (``outbox``): upload the outbox, apply the answers to the store.
- ``wallet_ops``: register (and remember the ledger URL), request an allowance.
- ``flows``: whole steps for one wallet (fund, sync, statement), e.g. for the demo.
"""

from __future__ import annotations

from p2ppay.sync.client import AdminClient, LedgerClient, RetryPolicy, SyncError
from p2ppay.sync.flows import fund_wallet, sync_wallet, wallet_statement
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
    "fund_wallet",
    "ledger_url",
    "register_wallet",
    "remember_ledger",
    "request_allowance",
    "sync_outbox",
    "sync_wallet",
    "wallet_statement",
]
