"""``statement``: this wallet's balance, offline reserve and claims at the ledger.

``--json`` gives, per currency, ``balance``, ``reserve``, ``claims`` and ``held`` as decimal
text (claims are a debt left by a double spend: zero or negative; held is credit for a
payment the payer's money does not back yet: not spendable until the payer repays or the
operator releases it), plus the allowances.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import anyio

from p2ppay.cli.common import add_ca_file, add_json, home_of, now_s, unlock
from p2ppay.cli.limits_cmd import list_age_line, trust_json
from p2ppay.cli.output import Exit, Output

if TYPE_CHECKING:
    from p2ppay.api.schemas import StatementOut

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("statement", help="balances at the ledger")
    parser.add_argument("--ledger", default=None, metavar="URL", help="default: the registered one")
    add_ca_file(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.sync import LedgerClient, ledger_ca_file, ledger_url

    home = home_of(args)
    url = ledger_url(home, args.ledger)
    with unlock(home) as wallet:

        async def work() -> StatementOut:
            async with LedgerClient(
                url, wallet.identity.signing_key, ca_file=ledger_ca_file(home, args.ca_file)
            ) as client:
                return await client.statement()

        statement: StatementOut = anyio.run(work)
    currencies = {
        b.currency: {
            "balance": b.balance,
            "reserve": b.reserve,
            "claims": b.claims,
            "held": b.held,
        }
        for b in statement.balances
    }
    allowances = [a.model_dump() for a in statement.allowances]
    trust = trust_json(home, now=now_s())
    lines = [
        f"{c}: balance {v['balance']}, reserve {v['reserve']}, claims {v['claims']}, "
        f"held {v['held']}"
        for c, v in currencies.items()
    ] or ["no money at the ledger yet"]
    if trust is not None:
        lines.append(list_age_line(trust))
    out.result(
        {
            "wallet_id": statement.wallet_id,
            "currencies": currencies,
            "allowances": allowances,
            "revocation_list": trust,
        },
        lines,
    )
    return Exit.OK
