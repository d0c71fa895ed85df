"""Rows of the invoices, payments and receipts tables: read one, insert one.

Invariants:
- Plain SQL on a connection the caller holds (inside its transaction): no rule is checked
  here; the money steps (:mod:`.payments`) decide what may be written.
- Column lists are written once, so a reader and a writer can never disagree on order.
"""

from __future__ import annotations

import sqlite3

from p2ppay.store.records import InvoiceRecord, PaymentIn, PaymentRecord, ReceiptRecord, Side

__all__ = [
    "INVOICE_COLUMNS",
    "PAYMENT_COLUMNS",
    "RECEIPT_COLUMNS",
    "insert_payment",
    "read_invoice",
    "read_payment",
    "read_receipt",
]

INVOICE_COLUMNS = (
    "invoice_id, payee_key, amount_minor, currency, memo, created_at, expires_at, "
    "invoice_hash, signed"
)
PAYMENT_COLUMNS = (
    "invoice_id, role, payer_key, amount_minor, currency, counter, prev_hash, "
    "cumulative_minor, allowance_issuer, allowance_serial, payment_hash, signed, recorded_at"
)
RECEIPT_COLUMNS = "invoice_id, payment_hash, verdict, issued_at, receipt_hash, signed"


def read_invoice(conn: sqlite3.Connection, invoice_id: bytes) -> InvoiceRecord | None:
    row = conn.execute(
        f"SELECT {INVOICE_COLUMNS} FROM invoices WHERE invoice_id = ?", (invoice_id,)
    )
    found = row.fetchone()
    if found is None:
        return None
    iid, payee, amount, currency, memo, created, expires, digest, signed = found
    return InvoiceRecord(
        invoice_id=iid,
        payee_key=payee,
        amount_minor=amount,
        currency=currency,
        memo=memo,
        created_at=created,
        expires_at=expires,
        invoice_hash=digest,
        signed=signed,
    )


def read_payment(conn: sqlite3.Connection, invoice_id: bytes) -> PaymentRecord | None:
    found = conn.execute(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE invoice_id = ?", (invoice_id,)
    ).fetchone()
    if found is None:
        return None
    iid, role, payer, amount, cur, counter, prev, cumul, issuer, serial, digest, signed, at = found
    return PaymentRecord(
        invoice_id=iid,
        role=Side(role),
        payer_key=payer,
        amount_minor=amount,
        currency=cur,
        counter=counter,
        prev_hash=prev,
        cumulative_minor=cumul,
        allowance_issuer=issuer,
        allowance_serial=serial,
        payment_hash=digest,
        signed=signed,
        recorded_at=at,
    )


def read_receipt(conn: sqlite3.Connection, invoice_id: bytes) -> ReceiptRecord | None:
    found = conn.execute(
        f"SELECT {RECEIPT_COLUMNS} FROM receipts WHERE invoice_id = ?", (invoice_id,)
    ).fetchone()
    if found is None:
        return None
    iid, payment_hash, verdict, issued, digest, signed = found
    return ReceiptRecord(
        invoice_id=iid,
        payment_hash=payment_hash,
        verdict=verdict,
        issued_at=issued,
        receipt_hash=digest,
        signed=signed,
    )


def insert_payment(conn: sqlite3.Connection, p: PaymentIn, role: Side, now: int) -> None:
    conn.execute(
        f"INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            p.invoice_id,
            role.value,
            p.payer_key,
            p.amount_minor,
            p.currency,
            p.counter,
            p.prev_hash,
            p.cumulative_minor,
            p.allowance_issuer,
            p.allowance_serial,
            p.payment_hash,
            p.signed,
            now,
        ),
    )
