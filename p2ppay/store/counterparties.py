"""Peers we dealt with, and (payee side) the head of each payer chain we accepted.

Invariants:
- A seen chain (issuer, serial) only moves forward, and only in the transaction that
  stores the payment that moves it; the payee's offline check ("counter above the last one
  seen", prev hash and cumulative continuity) reads it as ``last_seen``, and the store
  re-checks the counter on write (``COUNTER_NOT_INCREASING``).
- Counts (``payments_in``, ``payments_out``) move only with a newly stored payment, never on
  an idempotent repeat.
"""

from __future__ import annotations

import sqlite3

from p2ppay.store.connection import Database
from p2ppay.store.records import Counterparty, SeenChain

__all__ = ["Counterparties"]

_COLUMNS = "public_key, first_seen, last_seen, payments_in, payments_out"
_CHAIN = "issuer_key, serial, wallet_key, last_counter, last_hash, last_spent, updated_at"


def get(conn: sqlite3.Connection, public_key: bytes) -> Counterparty | None:
    """The peer's record, if we ever dealt with it."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM counterparties WHERE public_key = ?", (public_key,)
    ).fetchone()
    if row is None:
        return None
    key, first, last, n_in, n_out = row
    return Counterparty(
        public_key=key, first_seen=first, last_seen=last, payments_in=n_in, payments_out=n_out
    )


def seen_chain(conn: sqlite3.Connection, issuer_key: bytes, serial: int) -> SeenChain | None:
    """The head of a payer's allowance chain as we last accepted it."""
    row = conn.execute(
        f"SELECT {_CHAIN} FROM seen_chains WHERE issuer_key = ? AND serial = ?",
        (issuer_key, serial),
    ).fetchone()
    if row is None:
        return None
    issuer, ser, wallet, counter, digest, spent, at = row
    return SeenChain(
        issuer_key=issuer,
        serial=ser,
        wallet_key=wallet,
        last_counter=counter,
        last_hash=digest,
        last_spent=spent,
        updated_at=at,
    )


def _touch(conn: sqlite3.Connection, public_key: bytes, now: int) -> None:
    conn.execute(
        "INSERT INTO counterparties (public_key, first_seen, last_seen) VALUES (?, ?, ?) "
        "ON CONFLICT (public_key) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
        (public_key, now, now),
    )


def record_paid_by(
    conn: sqlite3.Connection,
    payer_key: bytes,
    *,
    issuer_key: bytes,
    serial: int,
    counter: int,
    payment_hash: bytes,
    spent: int,
    now: int,
) -> None:
    """A payment from ``payer_key`` was stored: count it and advance its chain's head."""
    _touch(conn, payer_key, now)
    conn.execute(
        "UPDATE counterparties SET payments_in = payments_in + 1 WHERE public_key = ?",
        (payer_key,),
    )
    conn.execute(
        f"INSERT INTO seen_chains ({_CHAIN}) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (issuer_key, serial) DO UPDATE SET last_counter = excluded.last_counter, "
        "last_hash = excluded.last_hash, last_spent = excluded.last_spent, "
        "updated_at = excluded.updated_at",
        (issuer_key, serial, payer_key, counter, payment_hash, spent, now),
    )


def record_paid_to(conn: sqlite3.Connection, payee_key: bytes, *, now: int) -> None:
    """We stored a payment to ``payee_key``."""
    _touch(conn, payee_key, now)
    conn.execute(
        "UPDATE counterparties SET payments_out = payments_out + 1 WHERE public_key = ?",
        (payee_key,),
    )


class Counterparties:
    """Read peers and seen chains (the payee's acceptance check needs ``last_seen``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, public_key: bytes) -> Counterparty | None:
        """The peer's record, if any."""
        with self._db.read() as conn:
            return get(conn, public_key)

    def seen_chain(self, issuer_key: bytes, serial: int) -> SeenChain | None:
        """Payee: the last accepted head of the chain (issuer, serial), for ``last_seen``."""
        with self._db.read() as conn:
            return seen_chain(conn, issuer_key, serial)

    def received_from(self, payer_key: bytes, currency: str, *, since: int) -> int:
        """Payee: minor units ``payer_key`` paid us in ``currency`` recorded at ``since`` or later.

        The per-payer offline limit (:mod:`protocol.risk`) is checked against this sum.
        """
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT coalesce(sum(amount_minor), 0) FROM payments WHERE role = 'payee' "
                "AND payer_key = ? AND currency = ? AND recorded_at >= ?",
                (payer_key, currency, since),
            ).fetchone()
        return int(row[0])

    def all(self) -> list[Counterparty]:
        """Every peer, most recently seen first."""
        with self._db.read() as conn:
            keys = conn.execute(
                "SELECT public_key FROM counterparties ORDER BY last_seen DESC"
            ).fetchall()
            found = [get(conn, k) for (k,) in keys]
        return [c for c in found if c is not None]
