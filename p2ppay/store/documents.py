"""The bridge from ``protocol`` documents to store records, and back to chain heads.

The store itself takes explicit values (so it depends on no session internals); these
helpers extract them from verified ``protocol.verify.SignedDocument`` values in one place,
so the roles never copy fields by hand.

Invariants:
- Only verified documents come in: a ``SignedDocument`` as a session event, a builder or
  ``protocol.verify`` returned it (signatures and rules already checked; never bytes,
  which would have to be opened, and verified, once more). The record keeps the exact
  bytes and the hash ``protocol`` computed.
- A payment is tied to its invoice by the invoice's hash, never by trust: a payment that
  names another invoice is refused here (``PAYER_STATE_MISMATCH``) before it reaches the store.
"""

from __future__ import annotations

from collections.abc import Callable

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.allowances import AllowanceIn
from p2ppay.store.records import (
    AllowanceRecord,
    InvoiceRecord,
    PaymentIn,
    ReceiptRecord,
    SeenChain,
)
from p2ppay.store.store import Store
from protocol.chain import ChainHead, ChainKey
from protocol.documents import Allowance, Invoice, Payment, Receipt
from protocol.verify import SignedDocument

__all__ = [
    "allowance_in",
    "find_payment",
    "invoice_record",
    "last_seen",
    "last_seen_lookup",
    "payer_head",
    "payment_in",
    "receipt_record",
]


def invoice_record(invoice: SignedDocument[Invoice]) -> InvoiceRecord:
    """The store record of an invoice (ours, or the one a payee sent us)."""
    doc = invoice.doc
    return InvoiceRecord(
        invoice_id=doc.id,
        payee_key=doc.payee,
        amount_minor=doc.amount,
        currency=doc.currency,
        memo=doc.memo,
        created_at=doc.created,
        expires_at=doc.expires,
        invoice_hash=invoice.hash,
        signed=invoice.raw,
    )


def payment_in(payment: SignedDocument[Payment], *, invoice: SignedDocument[Invoice]) -> PaymentIn:
    """The store record of a payment for ``invoice``: one we signed (``PersistRequired``) or
    one we received and accepted; the store step that takes it applies that side's rules."""
    if payment.doc.invoice != invoice.hash:
        raise StoreError(AppErrorCode.PAYER_STATE_MISMATCH, "the payment names another invoice")
    allowance = payment.allowance
    if allowance is None:
        raise StoreError(AppErrorCode.PAYER_STATE_MISMATCH, "an unverified payment")
    doc = payment.doc
    return PaymentIn(
        invoice_id=invoice.doc.id,
        payer_key=doc.payer,
        amount_minor=doc.amount,
        currency=doc.currency,
        counter=doc.counter,
        prev_hash=doc.prev,
        cumulative_minor=doc.spent,
        allowance_issuer=allowance.doc.issuer,
        allowance_serial=allowance.doc.serial,
        payment_hash=payment.hash,
        signed=payment.raw,
    )


def receipt_record(receipt: SignedDocument[Receipt], *, invoice_id: bytes) -> ReceiptRecord:
    """The store record of a receipt for the payment of ``invoice_id``."""
    doc = receipt.doc
    return ReceiptRecord(
        invoice_id=invoice_id,
        payment_hash=doc.payment,
        verdict=int(doc.verdict),
        issued_at=doc.time,
        receipt_hash=receipt.hash,
        signed=receipt.raw,
    )


def allowance_in(allowance: SignedDocument[Allowance]) -> AllowanceIn:
    """What the store needs to import an allowance (check its window before importing)."""
    doc = allowance.doc
    return AllowanceIn(
        issuer_key=doc.issuer,
        serial=doc.serial,
        wallet_key=doc.wallet,
        currency=doc.currency,
        limit_minor=doc.limit,
        not_before=doc.not_before,
        not_after=doc.not_after,
        allowance_hash=allowance.hash,
        signed=allowance.raw,
    )


def payer_head(allowance: AllowanceRecord) -> ChainHead | None:
    """Payer: the head to pass to ``protocol.builders.make_payment`` (``None``: first payment)."""
    if allowance.last_counter is None or allowance.chain_head is None:
        return None
    return ChainHead(
        key=ChainKey(issuer=allowance.issuer_key, serial=allowance.serial),
        counter=allowance.last_counter,
        hash=allowance.chain_head,
        spent=allowance.spent_minor,
    )


def last_seen(seen: SeenChain | None) -> ChainHead | None:
    """Payee: the ``last_seen`` to pass to ``protocol.acceptance.check_payment``."""
    if seen is None:
        return None
    return ChainHead(
        key=ChainKey(issuer=seen.issuer_key, serial=seen.serial),
        counter=seen.last_counter,
        hash=seen.last_hash,
        spent=seen.last_spent,
    )


def find_payment(store: Store) -> Callable[[bytes], bytes | None]:
    """Payer: the ``find_payment`` a ``PayerSession`` takes (our persisted payment bytes)."""

    def lookup(invoice_id: bytes) -> bytes | None:
        return store.payments.outgoing_bytes(invoice_id)

    return lookup


def last_seen_lookup(store: Store) -> Callable[[ChainKey], ChainHead | None]:
    """Payee: the ``last_seen`` a ``PayeePolicy`` takes (heads of payer chains we stored)."""

    def lookup(key: ChainKey) -> ChainHead | None:
        return last_seen(store.counterparties.seen_chain(key.issuer, key.serial))

    return lookup
