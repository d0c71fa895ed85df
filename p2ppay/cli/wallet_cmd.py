"""``init``, ``id``, ``trust-issuer``, ``passphrase change``, ``backup`` and ``restore``.

Create a wallet, show who it is (and the label it was given), trust an issuer, change the
key's passphrase, and seal the whole wallet into one file or bring it back
(:mod:`p2ppay.wallet.backup`). Passphrases never come from the command line: from
``P2PPAY_PASSPHRASE`` / ``P2PPAY_NEW_PASSPHRASE`` / ``P2PPAY_BACKUP_PASSPHRASE`` or a prompt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from p2ppay.cli.common import (
    BACKUP_PASSPHRASE_ENV,
    NEW_PASSPHRASE_ENV,
    PASSPHRASE_ENV,
    add_json,
    home_of,
    new_passphrase,
    now_s,
    passphrase_for,
    unlock,
)
from p2ppay.cli.output import Exit, Output
from p2ppay.wallet import (
    KdfParams,
    KeyPurpose,
    PublicIdentity,
    change_passphrase,
    init_wallet,
    load_config,
    open_store,
    parse_public_key,
    read_identity,
)
from p2ppay.wallet.backup import restore_backup, write_backup
from p2ppay.wallet.contacts import check_wallet_label
from p2ppay.wallet.keystore import read_public

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = subparsers.add_parser("init", help="create a wallet in the home")
    init.add_argument(
        "--no-passphrase",
        action="store_true",
        help="store the key unencrypted in an owner-only file (unattended kiosks)",
    )
    init.add_argument(
        "--label",
        default=None,
        help="the name counterparties see (sent in invoices, and in payments once you pay; "
        "1 to 32 visible characters)",
    )
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

    phrase = subparsers.add_parser("passphrase", help="the key file's passphrase")
    phrase_commands = phrase.add_subparsers(dest="passphrase_command", metavar="COMMAND")
    phrase_commands.required = True
    change = phrase_commands.add_parser("change", help="re-encrypt the key under a new one")
    change.add_argument("--no-passphrase", action="store_true", help="store it unencrypted")
    add_json(change)
    change.set_defaults(handler=run_passphrase_change)

    backup = subparsers.add_parser("backup", help="seal key, store, config, contacts in a file")
    backup.add_argument("--out", type=Path, required=True, metavar="FILE")
    add_json(backup)
    backup.set_defaults(handler=run_backup)

    restore = subparsers.add_parser("restore", help="bring a backup back into an empty home")
    restore.add_argument("file", type=Path, metavar="FILE")
    add_json(restore)
    restore.set_defaults(handler=run_restore)


def _identity_json(identity: PublicIdentity) -> dict[str, str]:
    return {
        "wallet_id": identity.wallet_id,
        "public_key": identity.public_key_hex,
        "key_id": identity.key_id.hex(),
    }


def run_init(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    if args.label is not None:
        check_wallet_label(args.label)  # before asking for a passphrase
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
    home = home_of(args)
    identity = read_identity(home)
    label = load_config(home).label
    out.result(
        {**_identity_json(identity), "label": label},
        [
            identity.wallet_id + (f" ({label})" if label else ""),
            f"public key {identity.public_key_hex}",
        ],
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


def run_passphrase_change(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    home.check_private()
    contents = read_public(home.key_file, purpose=KeyPurpose.WALLET)
    old = passphrase_for(PASSPHRASE_ENV, "current passphrase") if contents.encrypted else None
    new = None if args.no_passphrase else new_passphrase(env=NEW_PASSPHRASE_ENV)
    change_passphrase(
        home.key_file, purpose=KeyPurpose.WALLET, old=old, new=new, kdf=KdfParams.moderate()
    )
    out.result(
        {"encrypted": new is not None},
        ["passphrase changed" if new is not None else "the key is now stored unencrypted"],
    )
    return Exit.OK


def run_backup(args: argparse.Namespace, out: Output) -> int:
    passphrase = new_passphrase(env=BACKUP_PASSPHRASE_ENV, what="backup passphrase")
    summary = write_backup(home_of(args), args.out, passphrase=passphrase, kdf=KdfParams.moderate())
    out.result(
        {
            "file": str(args.out),
            "public_key": summary.public_key.hex(),
            "files": list(summary.files),
            "store_size": summary.store_size,
        },
        [f"wallet sealed into {args.out} ({', '.join(summary.files)}); keep the passphrase"],
    )
    return Exit.OK


def run_restore(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    passphrase = passphrase_for(BACKUP_PASSPHRASE_ENV, "backup passphrase")
    summary = restore_backup(home, args.file, passphrase=passphrase)
    with open_store(home, now=now_s()) as store:  # migrates an older store; proves it opens
        entries = len(store.sessions.history())
    identity = read_identity(home)
    out.result(
        {**_identity_json(identity), "home": str(home.root), "history_entries": entries},
        [f"restored wallet {identity.wallet_id} into {home.root} ({entries} history entries)"],
    )
    del summary
    return Exit.OK
