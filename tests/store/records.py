"""Builders shared by the store tests (this module holds no tests).

The store checks money rules, not signatures, so these records carry explicit synthetic
values: ids and hashes are SHA-256 of a label, ``signed`` is an opaque blob. Real signed
documents go through the store in ``test_store_documents.py``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from p2ppay.store import (
    AllowanceIn,
    InvoiceRecord,
    PaymentIn,
    ReceiptRecord,
    Store,
)

WALLET = bytes([1]) * 32
"""The store owner's key in these tests."""
PAYEE = bytes([2]) * 32
"""Another wallet's key."""
ISSUER = bytes([3]) * 32
"""A development issuer's key."""
NOW = 1_800_000_000
"""A fixed Unix time for records."""


def digest(*parts: object) -> bytes:
    """A 32-byte stand-in hash of ``parts``."""
    return hashlib.sha256(repr(parts).encode()).digest()


def open_store(
    path: Path,
    *,
    key: bytes | None = WALLET,
    readonly: bool = False,
    busy_timeout_ms: int = 2000,
    on_connect: Callable[[sqlite3.Connection], None] | None = None,
) -> Store:
    """The store at ``path`` owned by ``key``."""
    return Store.open(
        path,
        wallet_key=key,
        now=NOW,
        readonly=readonly,
        busy_timeout_ms=busy_timeout_ms,
        on_connect=on_connect,
    )


def invoice(
    n: int, *, amount: int = 100, currency: str = "EUR", payee: bytes = PAYEE
) -> InvoiceRecord:
    """Invoice number ``n`` issued by ``payee``."""
    return InvoiceRecord(
        invoice_id=digest("invoice id", n)[:16],
        payee_key=payee,
        amount_minor=amount,
        currency=currency,
        memo=f"item {n}",
        created_at=NOW,
        expires_at=NOW + 300,
        invoice_hash=digest("invoice", n, payee, amount, currency),
        signed=b"invoice-bytes:" + digest("invoice", n, payee, amount, currency),
    )


def allowance(
    serial: int = 1, *, limit: int = 10_000, currency: str = "EUR", wallet: bytes = WALLET
) -> AllowanceIn:
    """An allowance for ``wallet`` from :data:`ISSUER`."""
    return AllowanceIn(
        issuer_key=ISSUER,
        serial=serial,
        wallet_key=wallet,
        currency=currency,
        limit_minor=limit,
        not_before=NOW - 10,
        not_after=NOW + 86_400,
        allowance_hash=digest("allowance", serial, limit, currency, wallet),
        signed=b"allowance-bytes:" + digest("allowance", serial),
    )


@dataclass(frozen=True, kw_only=True)
class Link:
    """Where a payment sits on its chain."""

    counter: int
    prev: bytes | None
    cumulative: int
    serial: int = 1


def outgoing(inv: InvoiceRecord, link: Link, *, payer: bytes = WALLET, salt: str = "") -> PaymentIn:
    """A payment of ``inv`` at ``link`` (``salt`` makes a different document)."""
    payment_hash = digest("payment", inv.invoice_id, link, payer, salt)
    return PaymentIn(
        invoice_id=inv.invoice_id,
        payer_key=payer,
        amount_minor=inv.amount_minor,
        currency=inv.currency,
        counter=link.counter,
        prev_hash=link.prev,
        cumulative_minor=link.cumulative,
        allowance_issuer=ISSUER,
        allowance_serial=link.serial,
        payment_hash=payment_hash,
        signed=b"payment-bytes:" + payment_hash,
    )


def incoming(inv: InvoiceRecord, link: Link, *, payer: bytes = PAYEE, salt: str = "") -> PaymentIn:
    """A payment of ``inv`` by ``payer`` received at ``link``."""
    return outgoing(inv, link, payer=payer, salt=salt)


def receipt(inv: InvoiceRecord, payment_hash: bytes, *, salt: str = "") -> ReceiptRecord:
    """An accepting receipt for the payment ``payment_hash`` of ``inv``."""
    receipt_hash = digest("receipt", payment_hash, salt)
    return ReceiptRecord(
        invoice_id=inv.invoice_id,
        payment_hash=payment_hash,
        verdict=1,
        issued_at=NOW,
        receipt_hash=receipt_hash,
        signed=b"receipt-bytes:" + receipt_hash,
    )


def next_link(store: Store, *, currency: str = "EUR", amount: int) -> Link:
    """The link the store expects next for a payment of ``amount``."""
    state = store.allowances.payer_position(currency)
    assert state.allowance is not None
    return Link(
        counter=state.next_counter,
        prev=state.prev_hash,
        cumulative=state.allowance.spent_minor + amount,
        serial=state.allowance.serial,
    )


FIRST_INCOMING = Link(counter=1, prev=None, cumulative=100)
"""The first link of a payer's chain, for a 100-unit invoice."""
