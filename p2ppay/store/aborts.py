"""Signed Aborts this wallet received that name one of its payments: evidence for the ledger.

A payee that aborted a session after the payment reached it, then settled that payment as
accepted, signed two contradicting statements; the payer keeps the Abort (exact bytes, as
signed) and uploads it at its next sync, where the ledger flags the equivocation.

Invariants: kept once per Abort (its hash is the key); only Aborts naming a payment are
kept (an Abort before any payment contradicts nothing); ``uploaded_at`` is set only after
the ledger answered for it, so a failed sync uploads it again next time.
"""

from __future__ import annotations

import sqlite3

from p2ppay.store.connection import Database
from protocol.keys import document_hash

__all__ = ["ReceivedAborts", "keep_in"]


def keep_in(conn: sqlite3.Connection, invoice_id: bytes, signed: bytes, *, now: int) -> bool:
    """Keep ``signed`` for ``invoice_id`` inside the caller's transaction; False if kept."""
    cursor = conn.execute(
        "INSERT INTO received_aborts (abort_hash, invoice_id, signed, received_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (abort_hash) DO NOTHING",
        (document_hash(signed), invoice_id, signed, now),
    )
    return cursor.rowcount > 0


class ReceivedAborts:
    """The Aborts kept for the ledger."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def keep(self, invoice_id: bytes, signed: bytes, *, now: int) -> bool:
        """Keep ``signed`` for ``invoice_id``; False if it was already kept."""
        with self._db.write() as conn:
            return keep_in(conn, invoice_id, signed, now=now)

    def pending(self) -> list[bytes]:
        """Kept Aborts the ledger has not answered for yet, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT signed FROM received_aborts WHERE uploaded_at IS NULL "
                "ORDER BY received_at, abort_hash"
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def mark_uploaded(self, signed: list[bytes], *, now: int) -> None:
        """The ledger answered for these Aborts."""
        with self._db.write() as conn:
            conn.executemany(
                "UPDATE received_aborts SET uploaded_at = ? WHERE abort_hash = ?",
                [(now, document_hash(raw)) for raw in signed],
            )
