"""The payer's durable state: whose store this is, its allowances and their chain heads.

Invariants:
- One row of ``allowances`` names the wallet key the store belongs to; opening the store
  with another key is refused (``STORE_WRONG_WALLET``), so two homes can never mix.
- Each allowance (issuer, serial) carries its own chain: ``last_counter``, ``chain_head`` and
  ``spent_minor``. They change only inside the payer's money step
  (:meth:`p2ppay.store.payments.Payments.persist_outgoing`), in the same transaction that
  writes the payment: never here, never alone.
- At most one allowance per currency is active (a partial unique index enforces it);
  importing a newer one deactivates the older, which keeps its record and spent amount.
  The spent amount of an allowance never exceeds its limit (a CHECK constraint).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.connection import Database
from p2ppay.store.records import AllowanceRecord, PayerPosition

__all__ = ["AllowanceIn", "Allowances"]

_ALLOWANCE_COLUMNS = (
    "issuer_key, serial, wallet_key, currency, limit_minor, not_before, not_after, "
    "spent_minor, last_counter, chain_head, active, allowance_hash, signed, imported_at"
)


@dataclass(frozen=True, kw_only=True)
class AllowanceIn:
    """An allowance to import, with the fields the caller extracted from its signed bytes."""

    issuer_key: bytes
    serial: int
    wallet_key: bytes
    currency: str
    limit_minor: int
    not_before: int
    not_after: int
    allowance_hash: bytes
    signed: bytes


def _allowance(row: Any) -> AllowanceRecord:
    # STRICT tables guarantee each column's type, so values are used as SQLite returns them.
    (
        issuer,
        serial,
        wallet,
        currency,
        limit,
        nb,
        na,
        spent,
        counter,
        head,
        active,
        digest,
        signed,
        at,
    ) = row
    return AllowanceRecord(
        issuer_key=issuer,
        serial=serial,
        wallet_key=wallet,
        currency=currency,
        limit_minor=limit,
        not_before=nb,
        not_after=na,
        spent_minor=spent,
        last_counter=counter,
        chain_head=head,
        active=bool(active),
        allowance_hash=digest,
        signed=signed,
        imported_at=at,
    )


def ensure_owner(conn: sqlite3.Connection, public_key: bytes, *, now: int) -> None:
    """Create the state row for ``public_key``, or check the store is that wallet's."""
    row = conn.execute("SELECT public_key FROM wallet_state WHERE id = 1").fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO wallet_state (id, public_key, created_at) VALUES (1, ?, ?)",
            (public_key, now),
        )
    elif row[0] != public_key:
        raise StoreError(
            AppErrorCode.STORE_WRONG_WALLET, "this store belongs to another wallet key"
        )


def owner(conn: sqlite3.Connection) -> bytes:
    """The wallet key of this store."""
    row = conn.execute("SELECT public_key FROM wallet_state WHERE id = 1").fetchone()
    if row is None:
        raise StoreError(AppErrorCode.STORE_CORRUPT, "the store has no wallet state")
    key: bytes = row[0]
    return key


def active_allowance(conn: sqlite3.Connection, currency: str | None) -> AllowanceRecord | None:
    """The active allowance in ``currency`` (or the newest active one when ``None``)."""
    row = conn.execute(
        f"SELECT {_ALLOWANCE_COLUMNS} FROM allowances WHERE active = 1 "
        "AND (? IS NULL OR currency = ?) ORDER BY id DESC LIMIT 1",
        (currency, currency),
    ).fetchone()
    return None if row is None else _allowance(row)


def allowance_by_serial(
    conn: sqlite3.Connection, issuer_key: bytes, serial: int
) -> AllowanceRecord | None:
    """The allowance an (issuer, serial) pair names, active or not."""
    row = conn.execute(
        f"SELECT {_ALLOWANCE_COLUMNS} FROM allowances WHERE issuer_key = ? AND serial = ?",
        (issuer_key, serial),
    ).fetchone()
    return None if row is None else _allowance(row)


def payer_position(conn: sqlite3.Connection, currency: str | None) -> PayerPosition:
    """What the next payment must continue."""
    return PayerPosition(public_key=owner(conn), allowance=active_allowance(conn, currency))


class Allowances:
    """The wallet's allowances and where its payments stand: read the payer position, import
    allowances. The counter moves only with a payment."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def public_key(self) -> bytes:
        """The wallet key this store belongs to."""
        with self._db.read() as conn:
            return owner(conn)

    def payer_position(self, currency: str | None = None) -> PayerPosition:
        """The active allowance (in ``currency`` if given) with its chain head."""
        with self._db.read() as conn:
            return payer_position(conn, currency)

    def import_allowance(self, allowance: AllowanceIn, *, now: int) -> AllowanceRecord:
        """Store an allowance granted to this wallet and make it the active one in its currency.

        Idempotent: the same signed bytes again return the stored record (spent kept).
        Another document with the same (issuer, serial) is ``STORE_CONFLICT``.
        """
        with self._db.write() as conn:
            if allowance.wallet_key != owner(conn):
                raise StoreError(
                    AppErrorCode.STORE_WRONG_WALLET, "the allowance names another wallet"
                )
            existing = allowance_by_serial(conn, allowance.issuer_key, allowance.serial)
            if existing is not None:
                if existing.allowance_hash != allowance.allowance_hash:
                    raise StoreError(
                        AppErrorCode.STORE_CONFLICT,
                        f"another allowance with serial {allowance.serial} is stored",
                    )
                return existing
            conn.execute(
                "UPDATE allowances SET active = 0 WHERE active = 1 AND currency = ?",
                (allowance.currency,),
            )
            conn.execute(
                f"INSERT INTO allowances ({_ALLOWANCE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, 1, ?, ?, ?)",
                (
                    allowance.issuer_key,
                    allowance.serial,
                    allowance.wallet_key,
                    allowance.currency,
                    allowance.limit_minor,
                    allowance.not_before,
                    allowance.not_after,
                    allowance.allowance_hash,
                    allowance.signed,
                    now,
                ),
            )
            record = allowance_by_serial(conn, allowance.issuer_key, allowance.serial)
            assert record is not None
            return record

    def all(self) -> list[AllowanceRecord]:
        """Every allowance ever imported, newest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_ALLOWANCE_COLUMNS} FROM allowances ORDER BY id DESC"
            ).fetchall()
        return [_allowance(r) for r in rows]
