"""``init``, ``id`` and ``trust-issuer``: create a wallet, show who it is, trust an issuer."""

from __future__ import annotations

import argparse

from p2ppay.cli.common import add_json, home_of, new_passphrase, now_s, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.wallet import PublicIdentity, init_wallet, parse_public_key, read_identity

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = subparsers.add_parser("init", help="create a wallet in the home")
    init.add_argument(
        "--no-passphrase",
        action="store_true",
        help="store the key unencrypted in an owner-only file (unattended kiosks)",
    )
    init.add_argument("--label", default=None, help="a name for this wallet")
    add_json(init)
    init.set_defaults(handler=run_init)

    ident = subparsers.add_parser("id", help="show the wallet id and public key")
    add_json(ident)
    ident.set_defaults(handler=run_id)

    trust = subparsers.add_parser(
        "trust-issuer", help="accept allowances signed by this issuer when paid"
    )
    trust.add_argument("public_key", metavar="PUBLIC_KEY", help="the issuer's key, hex")
    trust.add_argument("--label", default="", help="a name for the issuer")
    add_json(trust)
    trust.set_defaults(handler=run_trust)


def _identity_json(identity: PublicIdentity) -> dict[str, str]:
    return {
        "wallet_id": identity.wallet_id,
        "public_key": identity.public_key_hex,
        "key_id": identity.key_id.hex(),
    }


def run_init(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    passphrase = None if args.no_passphrase else new_passphrase()
    identity = init_wallet(home, passphrase=passphrase, now=now_s(), label=args.label)
    out.result(
        {**_identity_json(identity), "home": str(home.root), "encrypted": passphrase is not None},
        [
            f"created wallet {identity.wallet_id} in {home.root}",
            f"public key {identity.public_key_hex}",
        ],
    )
    return Exit.OK


def run_id(args: argparse.Namespace, out: Output) -> int:
    identity = read_identity(home_of(args))
    out.result(
        _identity_json(identity),
        [identity.wallet_id, f"public key {identity.public_key_hex}"],
    )
    return Exit.OK


def run_trust(args: argparse.Namespace, out: Output) -> int:
    key = parse_public_key(args.public_key)
    with unlock(home_of(args)) as wallet:
        wallet.trust_issuer(key, now=now_s(), label=args.label)
        count = len(wallet.store.trust.issuers())
    out.result(
        {"trusted": key.hex(), "issuers": count},
        [f"trusting issuer {key.hex()} ({count} trusted)"],
    )
    return Exit.OK
