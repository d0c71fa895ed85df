"""The sync outbox: one record per stored payment, with its status towards the ledger.

Invariants:
- A record is created in the same transaction as the payment it carries (status
  ``pending``), so nothing stored can be missed by a sync, and nothing unstored is queued.
- Status moves along :data:`OUTBOX_TRANSITIONS`; ``settled`` and ``fraud`` are terminal;
  ``rejected`` may still become ``settled`` or ``fraud``: the ledger's final word wins over a
  local refusal (a payee that told the payer "rejected" but uploaded "accepted"). A receipt
  stored after the record was ``sent`` puts it back to ``pending`` so the ledger gets the
  complete bundle.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.connection import Database
from p2ppay.store.records import OutboxItem, OutboxStatus, Side

__all__ = ["OUTBOX_TRANSITIONS", "REFUSED_BY_PAYEE", "Outbox", "mark_in"]

REFUSED_BY_PAYEE = "refused by the payee"
"""Detail prefix of a payment the payee refused in the session with a signed Abort (no
receipt will come): the sync still asks the ledger about it, so a payee that refused it
and then settled it is caught and the payer learns the ledger's final word."""

_O = OutboxStatus
OUTBOX_TRANSITIONS: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    _O.PENDING: frozenset({_O.SENT, _O.SETTLED, _O.REJECTED, _O.FRAUD}),
    _O.SENT: frozenset({_O.PENDING, _O.SETTLED, _O.REJECTED, _O.FRAUD}),
    _O.SETTLED: frozenset(),
    _O.REJECTED: frozenset({_O.SETTLED, _O.FRAUD}),
    _O.FRAUD: frozenset(),
}
"""Allowed status changes; a same-status update is a no-op."""

_COLUMNS = "invoice_id, role, status, created_at, updated_at, attempts, detail"


def _item(row: Any) -> OutboxItem:
    # STRICT tables guarantee each column's type, so values are used as SQLite returns them.
    invoice_id, role, status, created, updated, attempts, detail = row
    return OutboxItem(
        invoice_id=invoice_id,
        role=Side(role),
        status=OutboxStatus(status),
        created_at=created,
        updated_at=updated,
        attempts=attempts,
        detail=detail,
    )


def enqueue(conn: sqlite3.Connection, invoice_id: bytes, role: Side, *, now: int) -> None:
    """Queue the payment's bundle for the ledger (inside the payment's transaction)."""
    conn.execute(
        f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, 'pending', ?, ?, 0, '') "
        "ON CONFLICT (invoice_id) DO NOTHING",
        (invoice_id, role.value, now, now),
    )


def requeue_after_receipt(conn: sqlite3.Connection, invoice_id: bytes, *, now: int) -> None:
    """A receipt completed the bundle: a record already ``sent`` goes back to ``pending``."""
    conn.execute(
        "UPDATE outbox SET status = 'pending', updated_at = ? "
        "WHERE invoice_id = ? AND status = 'sent'",
        (now, invoice_id),
    )


def mark_in(
    conn: sqlite3.Connection, invoice_id: bytes, status: OutboxStatus, *, now: int, detail: str
) -> OutboxItem:
    """:meth:`Outbox.mark` inside the caller's transaction."""
    row = conn.execute("SELECT status FROM outbox WHERE invoice_id = ?", (invoice_id,)).fetchone()
    if row is None:
        raise StoreError(AppErrorCode.STORE_NOT_FOUND, "no outbox record for that invoice")
    current = OutboxStatus(row[0])
    if current is not status:
        if status not in OUTBOX_TRANSITIONS[current]:
            raise StoreError(
                AppErrorCode.BAD_TRANSITION, f"outbox {current.value} -> {status.value}"
            )
        conn.execute(
            "UPDATE outbox SET status = ?, updated_at = ?, detail = ?, "
            "attempts = attempts + ? WHERE invoice_id = ?",
            (status.value, now, detail, int(status is _O.SENT), invoice_id),
        )
    final = conn.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE invoice_id = ?", (invoice_id,)
    ).fetchone()
    return _item(final)


class Outbox:
    """What a sync sends and what the ledger answered."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def items(
        self, status: OutboxStatus | None = None, *, limit: int | None = None
    ) -> list[OutboxItem]:
        """Records (with ``status`` if given), oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE (? IS NULL OR status = ?) "
                "ORDER BY created_at, rowid LIMIT ?",
                (
                    None if status is None else status.value,
                    None if status is None else status.value,
                    -1 if limit is None else limit,
                ),
            ).fetchall()
        return [_item(r) for r in rows]

    def get(self, invoice_id: bytes) -> OutboxItem:
        """One record, or ``STORE_NOT_FOUND``."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE invoice_id = ?", (invoice_id,)
            ).fetchone()
        if row is None:
            raise StoreError(AppErrorCode.STORE_NOT_FOUND, "no outbox record for that invoice")
        return _item(row)

    def mark(
        self, invoice_id: bytes, status: OutboxStatus, *, now: int, detail: str = ""
    ) -> OutboxItem:
        """Move a record to ``status`` (``sent`` counts an attempt); ``BAD_TRANSITION`` else."""
        with self._db.write() as conn:
            return mark_in(conn, invoice_id, status, now=now, detail=detail)

    def mark_many(self, changes: Sequence[tuple[bytes, OutboxStatus, str]], *, now: int) -> None:
        """:meth:`mark` for several records ``(invoice_id, status, detail)`` in one transaction
        (a sync batch): all of them or, on any error, none."""
        with self._db.write() as conn:
            for invoice_id, status, detail in changes:
                mark_in(conn, invoice_id, status, now=now, detail=detail)
