"""``issuer init`` and ``issuer grant``: a development issuer, for use before the ledger.

The issuer key lives unencrypted (owner-only) in the home: it is a development and test
tool; the ledger signs allowances for real use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from p2ppay.cli.common import (
    add_json,
    check_output_folder,
    home_of,
    int_in,
    now_s,
    write_output,
)
from p2ppay.cli.output import Exit, Output
from p2ppay.wallet import parse_public_key
from p2ppay.wallet.issuer import init_issuer, open_issuer
from protocol import format_amount, parse_amount

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    issuer = subparsers.add_parser("issuer", help="a development issuer of allowances")
    commands = issuer.add_subparsers(dest="issuer_command", metavar="COMMAND", required=True)

    init = commands.add_parser("init", help="create an issuer key in the home")
    add_json(init)
    init.set_defaults(handler=run_init)

    grant = commands.add_parser("grant", help="sign an allowance for a wallet")
    grant.add_argument("public_key", metavar="PUBLIC_KEY", help="the wallet's key, hex")
    grant.add_argument("amount", metavar="AMOUNT", help="offline limit, e.g. 50.00")
    grant.add_argument("currency", metavar="CURRENCY", help="ISO 4217 code, e.g. EUR")
    grant.add_argument("--out", type=Path, required=True, help="file to write the allowance to")
    grant.add_argument(
        "--valid-days", type=int_in(1, 366), default=30, help="validity (1..366, default 30 days)"
    )
    add_json(grant)
    grant.set_defaults(handler=run_grant)


def run_init(args: argparse.Namespace, out: Output) -> int:
    key = init_issuer(home_of(args), now=now_s())
    out.result({"public_key": key.hex()}, [f"issuer public key {key.hex()}"])
    return Exit.OK


def run_grant(args: argparse.Namespace, out: Output) -> int:
    wallet_key = parse_public_key(args.public_key)
    amount = parse_amount(args.amount, args.currency)
    check_output_folder(args.out)
    signed = open_issuer(home_of(args)).grant(
        wallet_key, amount, args.currency, now=now_s(), valid_for=args.valid_days * 86400
    )
    write_output(args.out, signed)
    text = format_amount(amount, args.currency)
    out.result(
        {"file": str(args.out), "amount": text, "currency": args.currency, "size": len(signed)},
        [f"allowance of {text} {args.currency} for {wallet_key.hex()} written to {args.out}"],
    )
    return Exit.OK
