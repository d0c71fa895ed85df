"""``p2ppay resume INVOICE_ID``: be the payee again for an invoice this wallet already issued.

After a crash, a lost link or a timeout, the payee retries the *same* invoice (same id, same
signed bytes), so the payer re-sends the payment it stored for it instead of paying twice,
and the payee completes with the payment (and receipt) it stored, if any. Exit 0 only when
the payment completed.

Invariants: only an invoice this wallet signed is resumed (``STORE_NOT_FOUND`` otherwise);
nothing new is signed before the session: the stored invoice bytes are used as they are.
An invoice whose receipt is stored is reported paid at once (no scan, no session replayed);
one that expired with no payment stored is ``INVOICE_EXPIRED`` at once.
"""

from __future__ import annotations

import argparse

from p2ppay.cli.collect import add_collect_options, collect_and_report, payee_role
from p2ppay.cli.common import home_of, now_s, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppError, AppErrorCode, StoreError
from protocol import Invoice, format_amount, open_as

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
        invoice_id = payments.resolve_id(args.invoice_id)
        record = payments.invoice(invoice_id)
        if record is None or record.payee_key != wallet.store.wallet.public_key():
            raise StoreError(
                AppErrorCode.STORE_NOT_FOUND, f"no invoice {args.invoice_id} issued by this wallet"
            )
        invoice = open_as(record.signed, Invoice)
        if payments.receipt(invoice_id) is not None:
            # Nothing to resume: never scan, never replay a session for a paid invoice.
            amount = format_amount(record.amount_minor, record.currency)
            out.result(
                {
                    "status": "completed",
                    "role": "payee",
                    "invoice_id": invoice_id.hex(),
                    "amount": amount,
                    "currency": record.currency,
                    "memo": record.memo,
                    "already_paid": True,
                    "error": None,
                    "reason": "already paid: the receipt is stored",
                },
                [f"invoice {invoice_id.hex()} is already paid ({amount} {record.currency})"],
            )
            return Exit.OK
        if payments.payment(invoice_id) is None and now_s() >= record.expires_at:
            raise AppError(
                AppErrorCode.INVOICE_EXPIRED,
                f"invoice {invoice_id.hex()} expired unpaid: `request` a new one",
            )
        out.progress(f"resuming invoice {invoice_id.hex()}")
        return collect_and_report(payee_role(args, wallet, out), invoice, args, out)
