"""``revoke``: put this wallet's own key on the ledger's revocation list (lost or stolen).

Signed by the wallet itself (``POST /v1/revocations``), so anyone holding a copy of the
wallet (a backup, the stolen laptop) can stop its offline payments: every payee refuses the
key offline from its next sync, and the ledger issues it no new allowance. Irreversible.
``--json`` prints ``{"wallet_id", "version", "revoked": true}``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import anyio

from p2ppay.cli.common import add_ca_file, add_json, home_of, unlock
from p2ppay.cli.output import Exit, Output

if TYPE_CHECKING:
    from p2ppay.api.schemas import RevocationsOut

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "revoke", help="revoke this wallet's key at the ledger (lost or stolen wallet)"
    )
    parser.add_argument("--ledger", default=None, metavar="URL", help="default: the registered one")
    add_ca_file(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.api.ids import wallet_id_of
    from p2ppay.sync import LedgerClient, ledger_ca_file, ledger_url

    home = home_of(args)
    url = ledger_url(home, args.ledger)
    with unlock(home) as wallet:
        wallet_id = wallet_id_of(wallet.identity.public_key)

        async def work() -> RevocationsOut:
            async with LedgerClient(
                url, wallet.identity.signing_key, ca_file=ledger_ca_file(home, args.ca_file)
            ) as client:
                return await client.revoke()

        listed: RevocationsOut = anyio.run(work)
    out.result(
        {"wallet_id": wallet_id, "version": listed.version, "revoked": True},
        [f"{wallet_id} is revoked at {url} (revocation list version {listed.version})"],
    )
    return Exit.OK
