"""``ledger serve`` and ``ledger deposit``: run the ledger service, fund an account.

- ``p2ppay ledger serve --db URL --host 127.0.0.1 --port N --admin-token TOKEN`` serves until
  interrupted (the token may come from ``P2PPAY_ADMIN_TOKEN`` instead).
- ``p2ppay ledger deposit WALLET_ID AMOUNT CURRENCY --ledger URL --admin-token TOKEN`` adds
  decimal ``AMOUNT`` to the account of ``WALLET_ID`` (``W-...`` or the hex public key).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING

import anyio

from p2ppay.cli.common import add_json
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppErrorCode
from p2ppay.ledger.errors import LedgerError
from protocol.money import parse_amount

if TYPE_CHECKING:
    from p2ppay.ledger.schemas import StatementOut

__all__ = ["ADMIN_TOKEN_ENV", "register"]

ADMIN_TOKEN_ENV = "P2PPAY_ADMIN_TOKEN"
"""Environment variable holding the ledger admin token (instead of ``--admin-token``)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = subparsers.add_parser("ledger", help="the ledger service (settles synced payments)")
    commands = ledger.add_subparsers(dest="ledger_command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the ledger HTTP service")
    serve.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://...")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--admin-token", default=None, help=f"or set {ADMIN_TOKEN_ENV}")
    serve.add_argument(
        "--grace",
        type=int,
        default=None,
        metavar="SECONDS",
        help="wait after an allowance ends before releasing its unspent reserve",
    )
    serve.add_argument(
        "--verify-workers",
        type=int,
        default=0,
        metavar="N",
        help="worker processes verifying bundles in parallel (default 0: in-process)",
    )
    serve.set_defaults(handler=run_serve)

    deposit = commands.add_parser("deposit", help="fund a wallet's account (admin)")
    deposit.add_argument("wallet", metavar="WALLET_ID", help="W-... or the hex public key")
    deposit.add_argument("amount", metavar="AMOUNT", help="decimal, e.g. 25.00")
    deposit.add_argument("currency", metavar="CURRENCY")
    deposit.add_argument("--ledger", required=True, metavar="URL")
    deposit.add_argument("--admin-token", default=None, help=f"or set {ADMIN_TOKEN_ENV}")
    add_json(deposit)
    deposit.set_defaults(handler=run_deposit)


def _token(args: argparse.Namespace) -> str:
    token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV)
    if not token:
        raise LedgerError(
            AppErrorCode.LEDGER_FORBIDDEN, f"pass --admin-token or set {ADMIN_TOKEN_ENV}"
        )
    return str(token)


def run_serve(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.ledger.server import serve
    from p2ppay.ledger.service import LedgerConfig

    extra = {} if args.grace is None else {"grace": args.grace}
    config = LedgerConfig(
        db_url=args.db,
        admin_token=_token(args),
        clock=lambda: int(time.time()),
        verify_workers=max(0, args.verify_workers),
        **extra,
    )

    def ready(url: str) -> None:
        out.progress(f"ledger listening on {url}")

    anyio.run(lambda: serve(config, host=args.host, port=args.port, on_ready=ready))
    return Exit.OK


def run_deposit(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.sync import AdminClient

    currency = args.currency.upper()
    amount = parse_amount(args.amount, currency)

    async def deposit() -> StatementOut:
        async with AdminClient(args.ledger, _token(args)) as admin:
            return await admin.deposit(args.wallet, amount, currency)

    statement: StatementOut = anyio.run(deposit)
    balances = {b.currency: b for b in statement.balances}
    row = balances[currency]
    out.result(
        {
            "wallet": statement.wallet,
            "wallet_id": statement.wallet_id,
            "currency": currency,
            "balance": row.balance,
            "reserve": row.reserve,
            "claims": row.claims,
        },
        [f"deposited {args.amount} {currency}: balance {row.balance} {currency}"],
    )
    return Exit.OK
