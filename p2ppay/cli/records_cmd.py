"""``history``, ``show ID`` and ``export ID --out FILE``: what the wallet holds, read-only.

These open the store read-only, so they work while ``pay`` or ``request`` runs. Ids may be
given as a unique hex prefix of at least 4 digits.

The counterparty is named as :func:`p2ppay.wallet.contacts.counterparty` says: the contacts
book's name, else the label it signed for itself (the payee's in its invoice, the payer's in
its payment), marked ``(self-named)``, else its key's fingerprint. ``--json`` gives
``peer`` (hex key), ``peer_name`` (contacts) and ``peer_label`` (self-chosen) apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from p2ppay.cli.common import add_json, home_of, now_s, write_output
from p2ppay.cli.humane import local_time, money
from p2ppay.cli.output import Exit, Output
from p2ppay.cli.render import document_json
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles import code_name
from p2ppay.store import HistoryEntry, Side, Store, Transfer
from p2ppay.store.settlement import Settlement, settlements
from p2ppay.wallet import open_store
from p2ppay.wallet.contacts import Contacts, counterparty, load_contacts
from protocol import Invoice, Payment, Receipt, format_amount, open_as
from protocol.bundle import encode_bundle

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = subparsers.add_parser("history", help="list payments made and received")
    history.add_argument("--limit", type=int, default=None, help="at most this many entries")
    add_json(history)
    history.set_defaults(handler=run_history)

    show = subparsers.add_parser("show", help="show one payment's documents")
    show.add_argument("id", metavar="ID", help="invoice id (or a unique prefix)")
    add_json(show)
    show.set_defaults(handler=run_show)

    export = subparsers.add_parser("export", help="write a payment's bundle to a file")
    export.add_argument("id", metavar="ID", help="invoice id (or a unique prefix)")
    export.add_argument("--out", type=Path, required=True, help="file to write the bundle to")
    add_json(export)
    export.set_defaults(handler=run_export)


def _store(args: argparse.Namespace) -> Store:
    return open_store(home_of(args), now=now_s(), readonly=True)


def _peer_text(key: bytes | None, label: str | None, contacts: Contacts) -> str:
    """A counterparty as a person knows it (module docstring)."""
    return counterparty(key, label=label, name=contacts.name_of(key))


def _peer_label(transfer: Transfer, role: Side | None) -> str | None:
    """The label the counterparty signed: the payee's invoice's for a payer, the payer's
    payment's for a payee (documents verified when they were stored)."""
    if role is Side.PAYER:
        return open_as(transfer.invoice.signed, Invoice).doc.label
    if role is Side.PAYEE and transfer.payment is not None:
        return open_as(transfer.payment.signed, Payment).doc.label
    return None


def _labels(store: Store, history: list[HistoryEntry]) -> dict[tuple[Side, bytes], str]:
    """(role, invoice id) -> the counterparty's label, for the entries that have one."""
    labels: dict[tuple[Side, bytes], str] = {}
    for entry in history:
        if entry.invoice_id is None:
            continue
        label = _peer_label(store.lookups.transfer(entry.invoice_id), entry.role)
        if label is not None:
            labels[(entry.role, entry.invoice_id)] = label
    return labels


def _entry_json(
    entry: HistoryEntry,
    settled: dict[bytes, Settlement],
    contacts: Contacts,
    label: str | None,
) -> dict[str, Any]:
    amount = None
    if entry.amount_minor is not None and entry.currency is not None:
        amount = format_amount(entry.amount_minor, entry.currency)
    return {
        "invoice_id": None if entry.invoice_id is None else entry.invoice_id.hex(),
        "role": entry.role.value,
        "amount": amount,
        "currency": entry.currency,
        "memo": entry.memo,
        "status": entry.status.value,
        "settlement": _settlement(entry, settled),
        "session_id": entry.session_id,
        "peer": None if entry.peer_key is None else entry.peer_key.hex(),
        "peer_name": contacts.name_of(entry.peer_key),
        "peer_label": label,
        "error": None if entry.error_code is None else code_name(entry.error_code),
        "detail": entry.detail,
        "recovered": entry.recovered,
        "started_at": entry.started_at,
        "updated_at": entry.updated_at,
    }


def _settlement(entry: HistoryEntry, settled: dict[bytes, Settlement]) -> str | None:
    """The ledger's word on this entry's payment; None when no payment was stored."""
    if entry.invoice_id is None or not entry.has_payment:
        return None
    state = settled.get(entry.invoice_id)
    return None if state is None else state.value


def _unpaid_json(row: tuple[bytes, int, str, str, int, int], *, now: int) -> dict[str, Any]:
    invoice_id, amount, currency, memo, created, expires = row
    return {
        "invoice_id": invoice_id.hex(),
        "role": "payee",
        "amount": format_amount(amount, currency),
        "currency": currency,
        "memo": memo,
        "status": "expired" if now >= expires else "unpaid",
        "settlement": None,
        "session_id": None,
        "peer": None,
        "peer_name": None,
        "peer_label": None,
        "error": None,
        "detail": "no payer was met" + ("" if now >= expires else ": `resume` it"),
        "recovered": False,
        "started_at": created,
        "updated_at": created,
    }


def run_history(args: argparse.Namespace, out: Output) -> int:
    contacts = load_contacts(home_of(args))
    now = now_s()
    with _store(args) as store:
        settled = settlements(store)
        history = store.sessions.history(limit=args.limit)
        unpaid = store.sessions.invoices_without_session()
        labels = _labels(store, history)

    def label_of(entry: HistoryEntry) -> str | None:
        return None if entry.invoice_id is None else labels.get((entry.role, entry.invoice_id))

    entries = [_entry_json(e, settled, contacts, label_of(e)) for e in history]
    # Invoices that never met a payer: listed too, so there is something to resume.
    waiting = [_unpaid_json(row, now=now) for row in unpaid]
    rows = [
        [
            local_time(w["updated_at"]),
            "asked",
            f"{w['amount']} {w['currency']}",
            "(no payer met)",
            str(w["status"]),
            str(w["invoice_id"])[:12],
        ]
        for w in waiting
    ] + [
        [
            local_time(e.updated_at),
            "paid" if e.role.value == "payer" else "got",
            f"{j['amount'] or '-'} {j['currency'] or ''}".strip(),
            ("to " if e.role.value == "payer" else "from ")
            + _peer_text(e.peer_key, label_of(e), contacts),
            ", ".join(str(x) for x in (j["status"], j["settlement"], j["error"]) if x),
            (j["invoice_id"] or "-")[:12],
        ]
        for e, j in zip(history, entries, strict=True)
    ]
    lines = ["  ".join(row) for row in rows] or ["no payments yet"]
    merged = sorted(entries + waiting, key=lambda e: e["updated_at"], reverse=True)
    if args.limit is not None:
        merged = merged[: args.limit]
    out.table(
        {"entries": merged, "count": len(merged)},
        columns=("when", "", "amount", "counterparty", "status", "invoice"),
        rows=rows,
        lines=lines,
    )
    return Exit.OK


def run_show(args: argparse.Namespace, out: Output) -> int:
    contacts = load_contacts(home_of(args))
    with _store(args) as store:
        invoice_id = store.lookups.resolve_id(args.id)
        transfer = store.lookups.transfer(invoice_id)
        settlement = settlements(store).get(invoice_id)
        entry = next((e for e in store.sessions.history() if e.invoice_id == invoice_id), None)
    documents = [document_json(open_as(transfer.invoice.signed, Invoice))]
    if transfer.payment is not None:
        documents.append(document_json(open_as(transfer.payment.signed, Payment)))
    if transfer.receipt is not None:
        documents.append(document_json(open_as(transfer.receipt.signed, Receipt)))
    invoice = transfer.invoice
    amount = format_amount(invoice.amount_minor, invoice.currency)
    status = None if transfer.status is None else transfer.status.value
    role = None if transfer.role is None else transfer.role.value
    payer_key = None if transfer.payment is None else transfer.payment.payer_key
    peer = invoice.payee_key if role == "payer" else payer_key
    label = _peer_label(transfer, transfer.role)
    error = None if entry is None or entry.error_code is None else code_name(entry.error_code)
    out.result(
        {
            "invoice_id": invoice_id.hex(),
            "role": role,
            "status": status,
            "settlement": None if settlement is None else settlement.value,
            "error": error,
            "amount": amount,
            "currency": invoice.currency,
            "memo": invoice.memo,
            "peer": None if peer is None else peer.hex(),
            "peer_name": contacts.name_of(peer),
            "peer_label": label,
            "documents": documents,
        },
        _receipt_lines(
            transfer,
            role=role,
            status=status,
            settlement=settlement,
            error=error,
            entry=entry,
            peer=peer,
            label=label,
            contacts=contacts,
        ),
    )
    return Exit.OK


def _receipt_lines(
    transfer: Transfer,
    *,
    role: str | None,
    status: str | None,
    settlement: Settlement | None,
    error: str | None,
    entry: HistoryEntry | None,
    peer: bytes | None,
    label: str | None,
    contacts: Contacts,
) -> list[str]:
    """A receipt a person would keep (the signed documents stay in ``--json``)."""
    invoice = transfer.invoice
    when = transfer.receipt.issued_at if transfer.receipt is not None else invoice.created_at
    heading = {"payer": "You paid", "payee": "You were paid"}.get(role or "", "Invoice")
    lines = [
        f"{heading}: {money(invoice.amount_minor, invoice.currency)}",
        f"  {'to' if role == 'payer' else 'from'}: {_peer_text(peer, label, contacts)}",
        f"  date: {local_time(when)}",
        f"  memo: {invoice.memo or '-'}",
        f"  status: {status or 'no session yet'}"
        + (f"; ledger: {settlement.value}" if settlement is not None else ""),
    ]
    if error is not None:
        detail = entry.detail if entry is not None and entry.detail else ""
        lines.append(f"  why: {error}" + (f" ({detail})" if detail else ""))
    lines.append(f"  receipt: {'signed by the payee' if transfer.receipt else 'none'}")
    lines.append(f"  invoice id: {invoice.invoice_id.hex()}")
    return lines


def run_export(args: argparse.Namespace, out: Output) -> int:
    with _store(args) as store:
        invoice_id = store.lookups.resolve_id(args.id)
        transfer = store.lookups.transfer(invoice_id)
    if transfer.payment is None or transfer.receipt is None:
        raise AppError(AppErrorCode.NOT_COMPLETE, "no receipt yet for this invoice")
    bundle = encode_bundle(
        transfer.invoice.signed, transfer.payment.signed, transfer.receipt.signed
    )
    write_output(args.out, bundle)
    out.result(
        {"invoice_id": invoice_id.hex(), "file": str(args.out), "size": len(bundle)},
        [f"bundle of invoice {invoice_id.hex()} written to {args.out} ({len(bundle)} bytes)"],
    )
    return Exit.OK
