"""``p2ppay resume INVOICE_ID``: be the payee again for an invoice this wallet already issued.

After a crash, a lost link or a timeout, the payee retries the *same* invoice (same id, same
signed bytes), so the payer re-sends the payment it stored for it instead of paying twice,
and the payee completes with the payment (and receipt) it stored, if any. Exit 0 only when
the payment completed.

Invariants: only an invoice this wallet signed is resumed (``STORE_NOT_FOUND`` otherwise);
nothing new is signed before the session: the stored invoice bytes are used as they are.
An invoice whose receipt is stored is reported paid at once, and the stored receipt is handed
to a payer still waiting for it for a few seconds at most (never the 30 s scan, nothing
signed again); one that expired with no payment stored is ``INVOICE_EXPIRED`` at once.
"""

from __future__ import annotations

import argparse

import anyio

from p2ppay.cli.collect import (
    add_collect_options,
    collect,
    collect_and_report,
    link_options,
    payee_role,
)
from p2ppay.cli.common import home_of, now_s, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppError, AppErrorCode, StoreError
from p2ppay.store import SessionStatus
from p2ppay.wallet import Wallet
from protocol import Invoice, SignedDocument, format_amount, open_as

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resume = subparsers.add_parser(
        "resume", help="be the payee again for an invoice already issued (after a failure)"
    )
    resume.add_argument("invoice_id", metavar="INVOICE_ID", help="hex id (or a unique prefix)")
    add_collect_options(resume)
    resume.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    with unlock(home_of(args)) as wallet:
        payments = wallet.store.payments
        invoice_id = wallet.store.lookups.resolve_id(args.invoice_id)
        record = payments.invoice(invoice_id)
        refused = [
            s
            for s in wallet.store.sessions.for_invoice(invoice_id)
            if s.state is SessionStatus.REFUSED
        ]
        if refused:
            raise AppError(
                AppErrorCode.PAYMENT_REFUSED,
                f"the payee refused this payment ({refused[-1].detail}); nothing to resume: "
                "`sync` asks the ledger for its final word",
            )
        if record is None or record.payee_key != wallet.store.allowances.public_key():
            raise StoreError(
                AppErrorCode.STORE_NOT_FOUND, f"no invoice {args.invoice_id} issued by this wallet"
            )
        invoice = open_as(record.signed, Invoice)
        if payments.receipt(invoice_id) is not None:
            return _already_paid(args, wallet, invoice, out)
        if payments.payment(invoice_id) is None and now_s() >= record.expires_at:
            raise AppError(
                AppErrorCode.INVOICE_EXPIRED,
                f"invoice {invoice_id.hex()} expired unpaid: `request` a new one",
            )
        out.progress(f"resuming invoice {invoice_id.hex()}")
        return collect_and_report(payee_role(args, wallet, out), invoice, args, out)


RECEIPT_REDELIVERY_WINDOW = 5.0
"""Seconds a ``resume`` of a paid invoice looks for its payer, to hand it the stored receipt."""


def _already_paid(
    args: argparse.Namespace, wallet: Wallet, invoice: SignedDocument[Invoice], out: Output
) -> int:
    """A paid invoice: say so at once; hand the stored receipt to a payer still waiting for it
    (briefly, nothing is signed again); exit 0 either way: the money is received."""
    doc = invoice.doc
    amount = format_amount(doc.amount, doc.currency)
    out.progress(
        f"invoice {doc.id.hex()} is already paid ({amount} {doc.currency}); "
        f"looking {RECEIPT_REDELIVERY_WINDOW:g} s for a payer still waiting for its receipt"
    )
    args.within = min(args.within, RECEIPT_REDELIVERY_WINDOW)
    args.attempts = 1
    redelivered = False
    try:
        with out.live_status():
            outcome = anyio.run(
                collect,
                payee_role(args, wallet, out),
                args.adapter,
                link_options(args),
                invoice,
            )
        redelivered = outcome.completed
    except AppError as exc:
        if exc.code is not AppErrorCode.NO_PAYER_FOUND:
            raise
    out.result(
        {
            "status": "completed",
            "role": "payee",
            "invoice_id": doc.id.hex(),
            "amount": amount,
            "currency": doc.currency,
            "memo": doc.memo,
            "already_paid": True,
            "receipt_redelivered": redelivered,
            "error": None,
            "reason": "already paid: the receipt is stored",
        },
        [
            f"invoice {doc.id.hex()} is already paid ({amount} {doc.currency})"
            + ("; its receipt was handed to the payer again" if redelivered else "")
        ],
    )
    return Exit.OK
