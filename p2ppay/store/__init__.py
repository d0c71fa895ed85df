"""The wallet's local store: SQLite, persist before send, recovery at open.

One module per concern: ``connection`` (pragmas, transactions, error translation, writer
lock), ``migrations`` (schema by ``user_version``), ``allowances`` (counter, chain head,
allowances), ``payments`` (invoices, payments, receipts: the money steps), ``sessions``
(log, transitions, recovery, history), ``counterparties``, ``outbox`` (sync), ``trust``
(issuer keys, revocations), ``records`` (the values), and ``store`` (the facade).
"""

from __future__ import annotations

from p2ppay.store.allowances import AllowanceIn
from p2ppay.store.migrations import SCHEMA_VERSION
from p2ppay.store.records import (
    AllowanceRecord,
    Counterparty,
    HistoryEntry,
    InvoiceRecord,
    LedgerPin,
    OutboxItem,
    OutboxStatus,
    PayerPosition,
    PaymentIn,
    PaymentRecord,
    ReceiptRecord,
    RecoveredSession,
    RevocationInfo,
    SeenChain,
    SessionRecord,
    SessionStatus,
    Side,
    Transfer,
    TrustedIssuer,
)
from p2ppay.store.sessions import TRANSITIONS
from p2ppay.store.store import DEFAULT_BUSY_TIMEOUT_MS, Store

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "AllowanceIn",
    "AllowanceRecord",
    "Counterparty",
    "HistoryEntry",
    "InvoiceRecord",
    "OutboxItem",
    "OutboxStatus",
    "PayerPosition",
    "PaymentIn",
    "PaymentRecord",
    "ReceiptRecord",
    "RecoveredSession",
    "LedgerPin",
    "RevocationInfo",
    "Side",
    "SeenChain",
    "SessionRecord",
    "SessionStatus",
    "Store",
    "Transfer",
    "TrustedIssuer",
]
