"""``p2ppay request AMOUNT CURRENCY``: be the payee. Invoice, find the payer, get paid.

Exit 0 only when the payment completed (payment verified and stored, receipt sent).
"""

from __future__ import annotations

import argparse

import anyio

from gatt.link import LinkOptions
from p2ppay.cli.common import add_adapter, add_json, home_of, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.radio import payee_central
from p2ppay.roles import PayeeRole, PayerChoice, SessionOutcome
from protocol import Invoice, SignedDocument, parse_amount

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    request = subparsers.add_parser("request", help="be the payee: ask a nearby payer for money")
    request.add_argument("amount", metavar="AMOUNT", help="decimal amount, e.g. 12.50")
    request.add_argument("currency", metavar="CURRENCY", help="ISO 4217 code, e.g. EUR")
    request.add_argument("--memo", default="", help="what the payment is for")
    add_adapter(request)
    request.add_argument("--tag", default=None, help="the payer's session tag (on its screen)")
    request.add_argument(
        "--min-rssi", type=int, default=-127, help="ignore payers weaker than this (dBm)"
    )
    request.add_argument(
        "--within", type=float, default=30.0, help="seconds to wait for a payer (default 30)"
    )
    request.add_argument(
        "--attempts", type=int, default=3, help="sessions to try if the link drops (default 3)"
    )
    request.add_argument("--ttl", type=int, default=300, help="seconds the invoice stays valid")
    request.add_argument("--mtu", type=int, default=517, help="largest ATT MTU to ask for")
    add_json(request)
    request.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    amount = parse_amount(args.amount, args.currency)
    with unlock(home_of(args)) as wallet:
        role = PayeeRole(
            wallet=wallet,
            choice=PayerChoice(tag=args.tag, min_rssi=args.min_rssi, within=args.within),
            attempts=max(1, args.attempts),
            progress=out.progress,
        )
        invoice = role.new_invoice(
            amount=amount, currency=args.currency, memo=args.memo, ttl=args.ttl
        )
        out.progress(f"invoice {invoice.doc.id.hex()} for {args.amount} {args.currency}")
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
