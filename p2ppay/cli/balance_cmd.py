"""``balance``: what this wallet can still spend offline, per currency, read from its store.

No network and no passphrase: it opens the store read-only (so it works while ``pay`` runs).
``--json`` gives ``currencies``: per currency the active allowance's ``limit``, ``spent``,
``left`` (decimal text), ``not_after`` (Unix seconds), ``expired``, ``issuer`` (hex), and
``pending_out`` / ``pending_in``: payments made / received that the ledger has not settled.
A wallet with no allowance in a currency it was paid in shows ``left`` as null.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

from p2ppay.cli.common import add_json, home_of, now_s
from p2ppay.cli.humane import fingerprint, local_time, money, span
from p2ppay.cli.output import Exit, Output
from p2ppay.store import Side, Store
from p2ppay.store.settlement import Settlement, settlements
from p2ppay.wallet import open_store
from protocol import format_amount

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("balance", help="what this wallet can still spend offline")
    add_json(parser)
    parser.set_defaults(handler=run)


def _pending(store: Store) -> dict[tuple[Side, str], int]:
    """Unsettled amounts by (role, currency)."""
    state = settlements(store)
    pending: dict[tuple[Side, str], int] = defaultdict(int)
    for entry in store.sessions.history():
        if entry.invoice_id is None or entry.amount_minor is None or entry.currency is None:
            continue
        if state.get(entry.invoice_id) is Settlement.PENDING and entry.has_payment:
            pending[(entry.role, entry.currency)] += entry.amount_minor
    return pending


def balance_json(store: Store, *, now: int) -> dict[str, Any]:
    """The ``--json`` body (module docstring)."""
    pending = _pending(store)
    active = {a.currency: a for a in store.allowances.all() if a.active}
    currencies: dict[str, Any] = {}
    for currency in sorted({*active, *(c for _, c in pending)}):
        allowance = active.get(currency)
        row: dict[str, Any] = {
            "limit": None,
            "spent": None,
            "left": None,
            "not_after": None,
            "expired": None,
            "issuer": None,
            "pending_out": format_amount(pending.get((Side.PAYER, currency), 0), currency),
            "pending_in": format_amount(pending.get((Side.PAYEE, currency), 0), currency),
        }
        if allowance is not None:
            row.update(
                limit=format_amount(allowance.limit_minor, currency),
                spent=format_amount(allowance.spent_minor, currency),
                left=format_amount(allowance.remaining_minor, currency),
                not_after=allowance.not_after,
                expired=now > allowance.not_after,
                issuer=allowance.issuer_key.hex(),
            )
        currencies[currency] = row
    return {"currencies": currencies}


def _lines(body: dict[str, Any], store: Store, *, now: int) -> list[str]:
    active = {a.currency: a for a in store.allowances.all() if a.active}
    lines: list[str] = []
    for currency, row in body["currencies"].items():
        allowance = active.get(currency)
        if allowance is None:
            lines.append(f"{currency}: no allowance (cannot pay offline)")
        else:
            left = money(allowance.remaining_minor, currency)
            until = local_time(allowance.not_after)
            if now > allowance.not_after:
                when = f"EXPIRED {until}: get a new allowance"
            else:
                when = f"until {until} ({span(allowance.not_after - now)} left)"
            lines.append(
                f"{currency}: {left} left of {money(allowance.limit_minor, currency)}, {when}; "
                f"issuer {fingerprint(allowance.issuer_key)}"
            )
        for key, label in (("pending_out", "paid"), ("pending_in", "received")):
            if row[key] not in ("0", "0.00", "0.000"):
                lines.append(f"  {label}, not yet settled: {row[key]} {currency}")
    return lines or ["no allowance and no payments yet"]


def _rows(body: dict[str, Any]) -> list[list[str]]:
    rows = []
    for currency, row in body["currencies"].items():
        until = "-" if row["not_after"] is None else local_time(row["not_after"])
        if row["expired"]:
            until = f"EXPIRED {until}"
        rows.append(
            [
                currency,
                "-" if row["left"] is None else f"{row['left']} of {row['limit']}",
                until,
                "-" if row["issuer"] is None else fingerprint(bytes.fromhex(row["issuer"])),
                row["pending_out"],
                row["pending_in"],
            ]
        )
    return rows


def run(args: argparse.Namespace, out: Output) -> int:
    now = now_s()
    with open_store(home_of(args), now=now, readonly=True) as store:
        body = balance_json(store, now=now)
        lines = _lines(body, store, now=now)
    out.table(
        body,
        columns=(
            "currency",
            "left offline",
            "valid until",
            "issuer",
            "paid, unsettled",
            "received, unsettled",
        ),
        rows=_rows(body),
        lines=lines,
    )
    return Exit.OK
