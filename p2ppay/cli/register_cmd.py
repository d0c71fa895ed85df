"""``register`` and ``trust-ledger``: pin a ledger's key (SPEC 4.1) and remember the ledger.

``register --ledger URL`` opens this wallet's account, pins the ledger key the ledger names
(its fingerprint is printed: compare it with the operator's) and stores the signed issuer
set and revocation list. ``--ledger-key HEX`` pins a key learnt out of band: a ledger that
answers with another key is refused (``SYNC_LEDGER_KEY_MISMATCH``) and nothing changes.
``trust-ledger URL`` does the same for a wallet that never registers (a kiosk, a payee).
A key once pinned is never replaced by another.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import anyio

from p2ppay.cli.common import add_ca_file, add_json, home_of, now_s, unlock
from p2ppay.cli.output import Exit, Output

if TYPE_CHECKING:
    from p2ppay.sync import Pinned

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("register", help="open this wallet's account on a ledger")
    parser.add_argument("--ledger", required=True, metavar="URL")
    _pin_options(parser)
    parser.set_defaults(handler=run)

    trust = subparsers.add_parser(
        "trust-ledger", help="pin a ledger's key and take its signed lists (no account)"
    )
    trust.add_argument("ledger", metavar="URL")
    _pin_options(trust)
    trust.set_defaults(handler=run_trust)


def _pin_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger-key",
        default=None,
        metavar="HEX",
        help="the ledger key from the operator (64 hex digits); refuse any other",
    )
    add_ca_file(parser)
    add_json(parser)


def _pin(args: argparse.Namespace, url: str, *, account: bool) -> Pinned:
    from p2ppay.sync import LedgerClient, parse_ledger_key, register_wallet, trust_ledger

    expected = None if args.ledger_key is None else parse_ledger_key(args.ledger_key)
    with unlock(home_of(args)) as wallet:

        async def work() -> Pinned:
            async with LedgerClient(
                url, wallet.identity.signing_key, ca_file=args.ca_file
            ) as client:
                if account:
                    return await register_wallet(
                        wallet,
                        client,
                        url,
                        now=now_s(),
                        ledger_key=expected,
                        ca_file=args.ca_file,
                    )
                return await trust_ledger(
                    wallet, client, now=now_s(), ledger_key=expected, ca_file=args.ca_file
                )

        pinned: Pinned = anyio.run(work)
    return pinned


def _result(url: str, pinned: Pinned) -> dict[str, object]:
    return {
        "ledger": url,
        "ledger_key": pinned.pin.public_key.hex(),
        "fingerprint": pinned.fingerprint,
        "pinned": pinned.pin.how,
        "revocations_version": pinned.trust.version,
        "issuers": pinned.trust.issuers,
    }


def run(args: argparse.Namespace, out: Output) -> int:
    pinned = _pin(args, args.ledger, account=True)
    account = pinned.account
    assert account is not None
    out.result(
        {
            **_result(args.ledger, pinned),
            "wallet": account.wallet,
            "wallet_id": account.wallet_id,
            "created": account.created,
        },
        [
            f"registered {account.wallet_id} at {args.ledger}",
            f"ledger key fingerprint {pinned.fingerprint} (pinned: {pinned.pin.how}); "
            "compare it with the one your operator published",
        ],
    )
    return Exit.OK


def run_trust(args: argparse.Namespace, out: Output) -> int:
    pinned = _pin(args, args.ledger, account=False)
    out.result(
        _result(args.ledger, pinned),
        [
            f"trusting the ledger at {args.ledger}: key fingerprint {pinned.fingerprint} "
            f"(pinned: {pinned.pin.how}), revocation list version {pinned.trust.version}"
        ],
    )
    return Exit.OK
