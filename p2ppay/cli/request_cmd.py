"""``p2ppay request AMOUNT CURRENCY``: be the payee. Invoice, find the payer, get paid.

Exit 0 only when the payment completed (payment verified and stored, receipt sent).
"""

from __future__ import annotations

import argparse

from p2ppay.cli.collect import add_collect_options, collect_and_report, payee_role
from p2ppay.cli.common import home_of, int_in, unlock
from p2ppay.cli.output import Output
from protocol import parse_amount

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    request = subparsers.add_parser("request", help="be the payee: ask a nearby payer for money")
    request.add_argument("amount", metavar="AMOUNT", help="decimal amount, e.g. 12.50")
    request.add_argument("currency", metavar="CURRENCY", help="ISO 4217 code, e.g. EUR")
    request.add_argument("--memo", default="", help="what the payment is for")
    request.add_argument(
        "--ttl",
        type=int_in(10, 86_400),
        default=300,
        help="seconds the invoice stays valid (10..86400, default 300)",
    )
    add_collect_options(request)
    request.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    amount = parse_amount(args.amount, args.currency)
    with unlock(home_of(args)) as wallet:
        role = payee_role(args, wallet, out)
        invoice = role.new_invoice(
            amount=amount, currency=args.currency, memo=args.memo, ttl=args.ttl
        )
        out.progress(f"invoice {invoice.doc.id.hex()} for {args.amount} {args.currency}")
        return collect_and_report(role, invoice, args, out)
