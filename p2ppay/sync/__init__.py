"""The sync client: a wallet's side of the ledger (see p2ppay/LEDGER.md).

- :class:`LedgerClient` / :class:`AdminClient` (``client``): the HTTP API, signed, retried.
- :func:`sync_outbox` (``outbox``): upload the outbox, apply the answers to the store.
- ``wallet_ops``: register / trust-ledger (pin the ledger key, remember the ledger),
  request an allowance.
- ``trust``: the pinned ledger key and the signed trust lists (SPEC 4.1).
- ``flows``: whole steps for one wallet (fund, sync, statement), e.g. for the demo.
"""

from __future__ import annotations

from p2ppay.sync.client import AdminClient, LedgerClient, RetryPolicy, SyncError
from p2ppay.sync.flows import fund_wallet, sync_wallet, wallet_statement
from p2ppay.sync.outbox import SyncReport, sync_outbox
from p2ppay.sync.trust import fingerprint, parse_ledger_key
from p2ppay.sync.wallet_ops import (
    Pinned,
    ledger_ca_file,
    ledger_url,
    register_wallet,
    remember_ledger,
    request_allowance,
    trust_ledger,
)

__all__ = [
    "AdminClient",
    "LedgerClient",
    "Pinned",
    "RetryPolicy",
    "SyncError",
    "SyncReport",
    "fingerprint",
    "fund_wallet",
    "ledger_ca_file",
    "ledger_url",
    "parse_ledger_key",
    "register_wallet",
    "remember_ledger",
    "request_allowance",
    "sync_outbox",
    "sync_wallet",
    "trust_ledger",
    "wallet_statement",
]
