"""Invoices, payments and receipts: the money steps, each one transaction.

The rule is *persist before send*:

- payer: :meth:`Payments.record_invoice` when the invoice arrives, then
  :meth:`Payments.persist_outgoing` before the payment leaves (payment + counter bump + chain
  head + allowance spent + outbox, together), then :meth:`Payments.persist_receipt` when the
  verified receipt arrives (the session completes);
- payee: :meth:`Payments.record_invoice` before the invoice leaves, then
  :meth:`Payments.persist_incoming` for the verified payment before signing the receipt,
  then :meth:`Payments.persist_receipt` before the receipt leaves, and
  ``sessions.complete`` once it is sent.

Invariants:
- Idempotent by invoice id: the same document again returns the stored record with
  ``created=False`` and changes nothing (no second counter, no second spend); a *different*
  document for a stored invoice id is ``STORE_CONFLICT`` and changes nothing.
- A payer payment is accepted only if it continues its allowance's chain exactly: its key
  is the wallet's, the allowance is the active one, it is the next link after the chain
  head by ``protocol.chain.follow`` (the rules the payee and the ledger apply: counter,
  ``prev_hash``, cumulative), within the limit, and its amount and currency are the
  invoice's. The counter, chain head and spent move in the same transaction as the
  payment, or not at all.
- A payee payment must match the invoice and carry a counter above the last one accepted
  on its chain (issuer, serial).
- A receipt must name the stored payment's hash.

Split by responsibility: the table rows are read and written in :mod:`.rows`, each step
moves its session through :func:`.sessions.advance` (the session log's progress rules,
beside its transitions), and the CLI's reads across invoices live in :mod:`.lookups`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import allowances, counterparties, outbox, sessions
from p2ppay.store.connection import Database
from p2ppay.store.records import (
    InvoiceRecord,
    PaymentIn,
    PaymentRecord,
    ReceiptRecord,
    SessionStatus,
    Side,
)
from p2ppay.store.rows import (
    INVOICE_COLUMNS,
    RECEIPT_COLUMNS,
    insert_payment,
    read_invoice,
    read_payment,
    read_receipt,
)
from protocol.chain import ChainHead, ChainKey, Link, follow
from protocol.errors import RemoteProtocolError

__all__ = ["Payments"]


def _mismatch(why: str) -> StoreError:
    return StoreError(AppErrorCode.PAYER_STATE_MISMATCH, why)


def _repeat_or_conflict(
    existing: PaymentRecord, payment_hash: bytes, role: Side
) -> tuple[PaymentRecord, bool]:
    if existing.role is not role:
        raise StoreError(
            AppErrorCode.STORE_CONFLICT, f"the invoice is already paid as {existing.role.value}"
        )
    if existing.payment_hash != payment_hash:
        raise StoreError(
            AppErrorCode.STORE_CONFLICT, "another payment is already stored for this invoice"
        )
    return existing, False


def _check_matches_invoice(invoice: InvoiceRecord, p: PaymentIn) -> None:
    if p.amount_minor != invoice.amount_minor or p.currency != invoice.currency:
        raise _mismatch("the payment's amount or currency differs from the invoice")


def _check_outgoing(conn: sqlite3.Connection, invoice: InvoiceRecord, payment: PaymentIn) -> None:
    """Payer: the payment is ours and continues its allowance's chain within the limit."""
    del invoice
    if payment.payer_key != allowances.owner(conn):
        raise _mismatch("the payment is not signed by this wallet's key")
    allowance = allowances.allowance_by_serial(
        conn, payment.allowance_issuer, payment.allowance_serial
    )
    if allowance is None or not allowance.active:
        raise StoreError(AppErrorCode.NO_ALLOWANCE, "the payment's allowance is not active")
    if allowance.currency != payment.currency:
        raise _mismatch("the allowance is in another currency")
    key = ChainKey(issuer=allowance.issuer_key, serial=allowance.serial)
    head = (
        None
        if allowance.last_counter is None or allowance.chain_head is None
        else ChainHead(
            key=key,
            counter=allowance.last_counter,
            hash=allowance.chain_head,
            spent=allowance.spent_minor,
        )
    )
    link = Link(
        counter=payment.counter,
        prev=payment.prev_hash,
        spent=payment.cumulative_minor,
        amount=payment.amount_minor,
        hash=payment.payment_hash,
    )
    try:
        # protocol's chain rules, the ones the payee and the ledger apply: the next link only
        if follow(head, key=key, link=link) is head:
            raise _mismatch("the payment is already the chain head")
    except RemoteProtocolError as exc:
        raise _mismatch(f"{exc.code.name}: {exc.message}") from exc
    if payment.cumulative_minor > allowance.limit_minor:
        raise StoreError(AppErrorCode.ALLOWANCE_EXCEEDED, "over the allowance's limit")


def _apply_outgoing(
    conn: sqlite3.Connection, invoice: InvoiceRecord, payment: PaymentIn, now: int
) -> None:
    """Payer: the allowance's counter, chain head and spent move with the payment."""
    conn.execute(
        "UPDATE allowances SET spent_minor = ?, last_counter = ?, chain_head = ? "
        "WHERE issuer_key = ? AND serial = ?",
        (
            payment.cumulative_minor,
            payment.counter,
            payment.payment_hash,
            payment.allowance_issuer,
            payment.allowance_serial,
        ),
    )
    counterparties.record_paid_to(conn, invoice.payee_key, now=now)


def _check_incoming(conn: sqlite3.Connection, invoice: InvoiceRecord, payment: PaymentIn) -> None:
    """Payee: our invoice, and the payer's chain only moves forward."""
    if invoice.payee_key != allowances.owner(conn):
        raise _mismatch("the invoice was not issued by this wallet")
    seen = counterparties.seen_chain(conn, payment.allowance_issuer, payment.allowance_serial)
    if seen is not None and payment.counter <= seen.last_counter:
        raise StoreError(
            AppErrorCode.COUNTER_NOT_INCREASING,
            f"counter {payment.counter} <= last seen {seen.last_counter}",
        )


def _apply_incoming(
    conn: sqlite3.Connection, invoice: InvoiceRecord, payment: PaymentIn, now: int
) -> None:
    """Payee: remember the payer's chain head as last seen."""
    del invoice
    counterparties.record_paid_by(
        conn,
        payment.payer_key,
        issuer_key=payment.allowance_issuer,
        serial=payment.allowance_serial,
        counter=payment.counter,
        payment_hash=payment.payment_hash,
        spent=payment.cumulative_minor,
        now=now,
    )


class Payments:
    """The money steps and their reads. See the module docstring for the order of calls."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_invoice(
        self, invoice: InvoiceRecord, *, now: int, session_id: str | None = None
    ) -> tuple[InvoiceRecord, bool]:
        """Store an invoice (and tie ``session_id`` to it); ``created`` is False on a repeat.

        A session whose invoice already has a stored payment catches up to it at once
        (``payment_persisted``, or ``receipt_persisted`` for a payee with a receipt): that
        is how a retry with the same invoice resumes.
        """
        with self._db.write() as conn:
            existing = read_invoice(conn, invoice.invoice_id)
            created = existing is None
            if existing is None:
                conn.execute(
                    f"INSERT INTO invoices ({INVOICE_COLUMNS}, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        invoice.invoice_id,
                        invoice.payee_key,
                        invoice.amount_minor,
                        invoice.currency,
                        invoice.memo,
                        invoice.created_at,
                        invoice.expires_at,
                        invoice.invoice_hash,
                        invoice.signed,
                        now,
                    ),
                )
            elif existing.invoice_hash != invoice.invoice_hash:
                raise StoreError(
                    AppErrorCode.STORE_CONFLICT, "another invoice with this id is stored"
                )
            if session_id is not None:
                sessions.attach_invoice(conn, session_id, invoice.invoice_id, now=now)
            stored = read_invoice(conn, invoice.invoice_id)
            assert stored is not None
            return stored, created

    def persist_outgoing(
        self, payment: PaymentIn, *, now: int, session_id: str | None = None
    ) -> tuple[PaymentRecord, bool]:
        """Payer: store our signed payment with the counter, chain and spent moves, atomically.

        Returns ``(record, created)``. On a repeat for the same invoice the stored payment
        comes back (``created=False``): send *its* bytes, never sign another. Raises
        ``STORE_NOT_FOUND`` (invoice not recorded), ``PAYER_STATE_MISMATCH``,
        ``ALLOWANCE_EXCEEDED``, ``NO_ALLOWANCE``, ``STORE_CONFLICT``, or a disk or lock error;
        in every error case nothing at all was written.
        """
        return self._persist_payment(
            payment,
            Side.PAYER,
            now=now,
            session_id=session_id,
            check=_check_outgoing,
            apply=_apply_outgoing,
        )

    def persist_incoming(
        self, payment: PaymentIn, *, now: int, session_id: str | None = None
    ) -> tuple[PaymentRecord, bool]:
        """Payee: store a verified payment before signing the receipt. Idempotent by invoice.

        Raises ``STORE_NOT_FOUND`` (our invoice unknown), ``PAYER_STATE_MISMATCH`` (amount or
        currency differ), ``COUNTER_NOT_INCREASING``, ``STORE_CONFLICT`` (another payment for
        the invoice), or a disk or lock error; nothing is written in any error case.
        """
        return self._persist_payment(
            payment,
            Side.PAYEE,
            now=now,
            session_id=session_id,
            check=_check_incoming,
            apply=_apply_incoming,
        )

    def _persist_payment(
        self,
        payment: PaymentIn,
        role: Side,
        *,
        now: int,
        session_id: str | None,
        check: Callable[[sqlite3.Connection, InvoiceRecord, PaymentIn], None],
        apply: Callable[[sqlite3.Connection, InvoiceRecord, PaymentIn, int], None],
    ) -> tuple[PaymentRecord, bool]:
        """One transaction: a repeat returns the stored payment; otherwise ``check`` the
        role's rules, insert, ``apply`` the role's state moves, queue for sync, advance."""
        with self._db.write() as conn:
            existing = read_payment(conn, payment.invoice_id)
            if existing is not None:
                result = _repeat_or_conflict(existing, payment.payment_hash, role)
            else:
                invoice = read_invoice(conn, payment.invoice_id)
                if invoice is None:
                    raise StoreError(AppErrorCode.STORE_NOT_FOUND, "record the invoice first")
                _check_matches_invoice(invoice, payment)
                check(conn, invoice, payment)
                insert_payment(conn, payment, role, now)
                apply(conn, invoice, payment, now)
                outbox.enqueue(conn, payment.invoice_id, role, now=now)
                stored = read_payment(conn, payment.invoice_id)
                assert stored is not None
                result = stored, True
            sessions.advance(
                conn,
                session_id,
                invoice_id=payment.invoice_id,
                role=role,
                state=SessionStatus.PAYMENT_PERSISTED,
                now=now,
            )
            return result

    def persist_receipt(
        self, receipt: ReceiptRecord, *, now: int, session_id: str | None = None
    ) -> tuple[ReceiptRecord, bool]:
        """Store the receipt for a stored payment; idempotent by invoice id.

        Payee: call before sending it (the session goes to ``receipt_persisted``; call
        ``sessions.complete`` once it is sent). Payer: call once it is verified (the session
        and any earlier attempt at this invoice become ``completed``).
        """
        with self._db.write() as conn:
            payment = read_payment(conn, receipt.invoice_id)
            if payment is None:
                raise StoreError(AppErrorCode.STORE_NOT_FOUND, "no stored payment for the receipt")
            if receipt.payment_hash != payment.payment_hash:
                raise StoreError(AppErrorCode.STORE_CONFLICT, "the receipt names another payment")
            existing = read_receipt(conn, receipt.invoice_id)
            created = existing is None
            if existing is None:
                conn.execute(
                    f"INSERT INTO receipts ({RECEIPT_COLUMNS}, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        receipt.invoice_id,
                        receipt.payment_hash,
                        receipt.verdict,
                        receipt.issued_at,
                        receipt.receipt_hash,
                        receipt.signed,
                        now,
                    ),
                )
                outbox.requeue_after_receipt(conn, receipt.invoice_id, now=now)
            elif existing.receipt_hash != receipt.receipt_hash:
                raise StoreError(
                    AppErrorCode.STORE_CONFLICT, "another receipt is stored for this invoice"
                )
            role = payment.role
            target = (
                SessionStatus.COMPLETED if role is Side.PAYER else (SessionStatus.RECEIPT_PERSISTED)
            )
            if session_id is not None:
                sessions.advance(
                    conn,
                    session_id,
                    invoice_id=receipt.invoice_id,
                    role=role,
                    state=target,
                    now=now,
                )
            sessions.complete_others(
                conn,
                role=role,
                invoice_id=receipt.invoice_id,
                except_id=session_id or "",
                now=now,
            )
            stored = read_receipt(conn, receipt.invoice_id)
            assert stored is not None
            return stored, created

    def invoice(self, invoice_id: bytes) -> InvoiceRecord | None:
        """The stored invoice, if any."""
        with self._db.read() as conn:
            return read_invoice(conn, invoice_id)

    def payment(self, invoice_id: bytes) -> PaymentRecord | None:
        """The stored payment for an invoice, if any (payer: resend these bytes on a retry)."""
        with self._db.read() as conn:
            return read_payment(conn, invoice_id)

    def outgoing_bytes(self, invoice_id: bytes) -> bytes | None:
        """Payer: the signed payment we persisted for ``invoice_id`` (resend it on a retry)."""
        payment = self.payment(invoice_id)
        if payment is None or payment.role is not Side.PAYER:
            return None
        return payment.signed

    def receipt(self, invoice_id: bytes) -> ReceiptRecord | None:
        """The stored receipt for an invoice, if any (payee: resend these bytes on a retry)."""
        with self._db.read() as conn:
            return read_receipt(conn, invoice_id)
