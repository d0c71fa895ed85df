"""The money invariants every reliability run ends with, read straight from the SQLite files.

Checked on the payer's and the payee's store files (read-only, by SQL, not through the
store's own API, so a bug there cannot hide a bug here):

- ``one_counter_per_payment``: no counter of a chain (issuer, serial) is signed for two
  different payments, in either store or across both;
- ``one_payment_per_invoice``: no invoice has two payments (or two receipts);
- ``receipt_kept``: every receipt the payer holds, the payee holds byte for byte (the payee
  persists before it sends, so a receipt that was sent was never lost);
- ``stores_agree``: for every invoice both stores know a payment for, the payment bytes are
  identical, and so are the receipts where both hold one;
- ``payer_head``: the payer's allowance (counter, spent) equals its last stored payment.

Checked on a payee's store file after a hostile payer's session by
:func:`tests.reliability.payee_probe.check_after`:

- ``typed_outcome``: the session ended ``completed`` exactly when the payment was
  acceptable, otherwise ``failed`` with a protocol ErrorCode name (never an exception, an
  internal or unnamed code), told to the payer in an Abort the payee signed;
- ``refusal_changes_nothing``: a refused payment left every money table byte for byte as it
  was (no payment, receipt, outbox entry or moved chain head);
- ``nothing_half_written``: no session left unfinished, no payment without the session that
  persisted it, no receipt without its payment, no chain head naming no stored payment;
- ``persisted_kept``: every money row stored before the hostile session is still there.

Checked against the ledger by :mod:`tests.reliability.ledgered` and the ledger fault tests:

- ``ledger_conservation``: held = -claims and balances + reserves = deposits - withdrawals
  (spendable money is backed);
- ``settled_once``: the payee is credited, and the payer's reserve debited, exactly the
  sum of the invoices paid (each once), and every one is ``settled`` in both stores.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from p2ppay.wallet import WalletHome

__all__ = [
    "INVARIANTS",
    "LEDGER_INVARIANTS",
    "MONEY_TABLES",
    "PAYEE_INVARIANTS",
    "Snapshot",
    "check",
    "money_state",
    "snapshot",
]

INVARIANTS = (
    "one_counter_per_payment",
    "one_payment_per_invoice",
    "receipt_kept",
    "stores_agree",
    "payer_head",
)
"""The names of the checks :func:`check` makes (the report lists them)."""

PAYEE_INVARIANTS = (
    "typed_outcome",
    "refusal_changes_nothing",
    "nothing_half_written",
    "persisted_kept",
)
"""The names of the payee-side checks after a hostile session (module docstring)."""

LEDGER_INVARIANTS = ("ledger_conservation", "settled_once")
"""The names of the ledger-side checks (module docstring)."""


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What one store holds: payments and receipts by invoice id, and the payer's allowance."""

    payments: dict[bytes, tuple[bytes, bytes, int, bytes]]
    """invoice id -> (issuer, serial as bytes, counter, signed payment)."""
    receipts: dict[bytes, bytes]
    allowance: tuple[int | None, int] | None
    """(last_counter, spent_minor) of the active allowance, if any."""
    counters: list[tuple[bytes, int, int, bytes]]
    """(issuer, serial, counter, payment hash) of every stored payment."""


def snapshot(home: WalletHome) -> Snapshot:
    """Read one store file without taking its writer lock."""
    uri = f"file:{Path(home.store_file).as_posix()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        rows = conn.execute(
            "SELECT invoice_id, allowance_issuer, allowance_serial, counter, payment_hash, signed "
            "FROM payments"
        ).fetchall()
        receipts = conn.execute("SELECT invoice_id, signed FROM receipts").fetchall()
        allowance = conn.execute(
            "SELECT last_counter, spent_minor FROM allowances WHERE active = 1"
        ).fetchone()
    conn.close()
    return Snapshot(
        payments={r[0]: (r[1], str(r[2]).encode(), r[3], r[5]) for r in rows},
        receipts={r[0]: r[1] for r in receipts},
        allowance=None if allowance is None else (allowance[0], allowance[1]),
        counters=[(r[1], r[2], r[3], r[4]) for r in rows],
    )


def check(payer: WalletHome, payee: WalletHome) -> tuple[str, ...]:
    """Assert every invariant on the two stores; return the names of those checked."""
    mine, theirs = snapshot(payer), snapshot(payee)
    used: dict[tuple[bytes, int, int], set[bytes]] = defaultdict(set)
    for issuer, serial, counter, payment_hash in mine.counters + theirs.counters:
        used[(issuer, serial, counter)].add(payment_hash)
    reused = {k: v for k, v in used.items() if len(v) > 1}
    assert not reused, f"one_counter_per_payment: counters signed twice: {reused}"
    # The schema makes invoice_id a primary key; count again in case that ever changes.
    for snap in (mine, theirs):
        assert len(snap.payments) == len(set(snap.payments)), "one_payment_per_invoice"
        assert set(snap.receipts) <= set(snap.payments), "one_payment_per_invoice: stray receipt"
    for invoice_id, receipt in mine.receipts.items():
        assert theirs.receipts.get(invoice_id) == receipt, (
            f"receipt_kept: the payer holds a receipt for {invoice_id.hex()} the payee lost"
        )
    for invoice_id in set(mine.payments) & set(theirs.payments):
        assert mine.payments[invoice_id][3] == theirs.payments[invoice_id][3], (
            f"stores_agree: payment bytes differ for {invoice_id.hex()}"
        )
    for invoice_id in set(theirs.payments) - set(mine.payments):
        raise AssertionError(
            f"stores_agree: the payee holds a payment the payer never stored: {invoice_id.hex()}"
        )
    if mine.allowance is not None:
        counters = [c for _, _, c, _ in mine.counters]
        last = max(counters) if counters else None
        assert mine.allowance[0] == last, f"payer_head: head {mine.allowance[0]} != last {last}"
        assert counters == [] or sorted(counters) == list(range(1, len(counters) + 1)), (
            f"payer_head: the payer's own chain has a gap: {sorted(counters)}"
        )
    return INVARIANTS


MONEY_TABLES = ("allowances", "invoices", "payments", "receipts", "seen_chains", "outbox")
"""Every table that holds money or the evidence of it (the session log is not one)."""


def money_state(home: WalletHome) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every money table, for "nothing changed" comparisons."""
    uri = f"file:{Path(home.store_file).as_posix()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in MONEY_TABLES
        }
    finally:
        conn.close()
