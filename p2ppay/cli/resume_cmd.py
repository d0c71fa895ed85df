"""``p2ppay resume INVOICE_ID``: be the payee again for an invoice this wallet already issued.

After a crash, a lost link or a timeout, the payee retries the *same* invoice (same id, same
signed bytes), so the payer re-sends the payment it stored for it instead of paying twice,
and the payee completes with the payment (and receipt) it stored, if any. Exit 0 only when
the payment completed.

Invariants: only an invoice this wallet signed is resumed (``STORE_NOT_FOUND`` otherwise);
nothing new is signed before the session: the stored invoice bytes are used as they are.
"""

from __future__ import annotations

import argparse

import anyio

from gatt.link import LinkOptions
from p2ppay.cli.common import add_adapter, add_json, home_of, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.radio import payee_central
from p2ppay.roles import PayeeRole, PayerChoice, SessionOutcome
from protocol import Invoice, SignedDocument, open_as

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resume = subparsers.add_parser(
        "resume", help="be the payee again for an invoice already issued (after a failure)"
    )
    resume.add_argument("invoice_id", metavar="INVOICE_ID", help="hex id (or a unique prefix)")
    add_adapter(resume)
    resume.add_argument("--tag", default=None, help="the payer's session tag (on its screen)")
    resume.add_argument(
        "--min-rssi", type=int, default=-127, help="ignore payers weaker than this (dBm)"
    )
    resume.add_argument(
        "--within", type=float, default=30.0, help="seconds to wait for a payer (default 30)"
    )
    resume.add_argument(
        "--attempts", type=int, default=3, help="sessions to try if the link drops (default 3)"
    )
    resume.add_argument("--mtu", type=int, default=517, help="largest ATT MTU to ask for")
    add_json(resume)
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
        role = PayeeRole(
            wallet=wallet,
            choice=PayerChoice(tag=args.tag, min_rssi=args.min_rssi, within=args.within),
            attempts=max(1, args.attempts),
            progress=out.progress,
        )
        out.progress(f"resuming invoice {invoice_id.hex()}")
        outcome: SessionOutcome = anyio.run(
            _collect, role, args.adapter, LinkOptions(max_att_mtu=args.mtu), invoice
        )
    if outcome.completed:
        line = f"received {outcome.amount} {outcome.currency} for invoice {outcome.invoice_id}"
    else:
        line = f"payment {outcome.status}: {outcome.error} {outcome.reason}".rstrip()
    out.result(outcome.as_json(), [line, f"short authentication string {outcome.sas}"])
    return Exit.OK if outcome.completed else Exit.FAILED


async def _collect(
    role: PayeeRole, adapter: str, options: LinkOptions, invoice: SignedDocument[Invoice]
) -> SessionOutcome:
    async with payee_central(adapter, options) as central:
        return await role.collect(central, invoice)
