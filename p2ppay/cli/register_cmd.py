"""``register --ledger URL``: open this wallet's account on a ledger and remember the ledger."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import anyio

from p2ppay.cli.common import add_json, home_of, unlock
from p2ppay.cli.output import Exit, Output

if TYPE_CHECKING:
    from p2ppay.ledger.schemas import AccountOut

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("register", help="open this wallet's account on a ledger")
    parser.add_argument("--ledger", required=True, metavar="URL")
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.sync import LedgerClient, register_wallet

    with unlock(home_of(args)) as wallet:

        async def work() -> AccountOut:
            async with LedgerClient(args.ledger, wallet.identity.signing_key) as client:
                return await register_wallet(wallet, client, args.ledger)

        account: AccountOut = anyio.run(work)
    out.result(
        {
            "ledger": args.ledger,
            "wallet": account.wallet,
            "wallet_id": account.wallet_id,
            "created": account.created,
        },
        [f"registered {account.wallet_id} at {args.ledger}"],
    )
    return Exit.OK
