"""Lookups for the CLI, the sync client and the kiosk: one invoice's whole story, ids from
hex prefixes, takings since a time. Reads only.

Invariants:
- Nothing here writes; each call reads in one snapshot (``Database.read``).
- An id prefix resolves only if it is unique and at least 4 hex digits long
  (``AMBIGUOUS_ID`` otherwise), so a typo never picks someone else's payment.
"""

from __future__ import annotations

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.connection import Database
from p2ppay.store.records import SessionStatus, Side, Transfer
from p2ppay.store.rows import read_invoice, read_payment, read_receipt

__all__ = ["Lookups"]


class Lookups:
    """Reads across invoices, payments, receipts and the session log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def transfer(self, invoice_id: bytes) -> Transfer:
        """Everything about one invoice (for ``show`` and ``export``); ``STORE_NOT_FOUND``."""
        with self._db.read() as conn:
            invoice = read_invoice(conn, invoice_id)
            if invoice is None:
                raise StoreError(AppErrorCode.STORE_NOT_FOUND, "no such invoice")
            payment = read_payment(conn, invoice_id)
            latest = conn.execute(
                "SELECT role, state FROM sessions WHERE invoice_id = ? ORDER BY seq DESC LIMIT 1",
                (invoice_id,),
            ).fetchone()
            role = (
                payment.role
                if payment is not None
                else (None if latest is None else Side(latest[0]))
            )
            return Transfer(
                invoice=invoice,
                payment=payment,
                receipt=read_receipt(conn, invoice_id),
                role=role,
                status=None if latest is None else SessionStatus(latest[1]),
            )

    def resolve_id(self, text: str) -> bytes:
        """An invoice id from hex text: the full id or a unique prefix of at least 4 digits."""
        cleaned = text.strip().lower()
        try:
            if len(cleaned) % 2 == 0:
                bytes.fromhex(cleaned)
            else:
                bytes.fromhex(cleaned + "0")
        except ValueError:
            raise StoreError(AppErrorCode.STORE_NOT_FOUND, f"{text!r} is not hex") from None
        if len(cleaned) < 4:
            raise StoreError(AppErrorCode.AMBIGUOUS_ID, "give at least 4 hex digits")
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT invoice_id FROM invoices WHERE substr(lower(hex(invoice_id)), 1, ?) = ? "
                "LIMIT 2",
                (len(cleaned), cleaned),
            ).fetchall()
        if not rows:
            raise StoreError(AppErrorCode.STORE_NOT_FOUND, f"no invoice {text}")
        if len(rows) > 1:
            raise StoreError(AppErrorCode.AMBIGUOUS_ID, f"{text} matches several invoices")
        found: bytes = rows[0][0]
        return found

    def received_since(self, since: int) -> dict[str, tuple[int, int]]:
        """Payments received (as payee) and stored at or after ``since`` (Unix seconds):
        currency -> (how many, total in minor units). Stored money only, never asked."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT currency, count(*), sum(amount_minor) FROM payments "
                "WHERE role = 'payee' AND recorded_at >= ? GROUP BY currency ORDER BY currency",
                (since,),
            ).fetchall()
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
