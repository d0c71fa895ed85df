"""``contacts add NAME KEY`` / ``contacts remove NAME`` / ``contacts list``: name the wallets
you deal with, so that prompts, ``history`` and ``show`` say "Bob's cafe", not a hex key.

Names stay on this machine (:mod:`p2ppay.wallet.contacts`). ``--json`` on ``list`` gives
``contacts``: a list of ``{"name", "public_key", "fingerprint"}``, sorted by name.
"""

from __future__ import annotations

import argparse

from p2ppay.cli.common import add_json, home_of
from p2ppay.cli.humane import fingerprint
from p2ppay.cli.output import Exit, Output
from p2ppay.wallet import parse_public_key
from p2ppay.wallet.contacts import load_contacts

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contacts = subparsers.add_parser("contacts", help="names for the wallets you deal with")
    commands = contacts.add_subparsers(dest="contacts_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="name a wallet's public key")
    add.add_argument("name", metavar="NAME")
    add.add_argument("key", metavar="KEY", help="its public key, 64 hex digits (`id --json`)")
    add_json(add)
    add.set_defaults(handler=run_add)
    remove = commands.add_parser("remove", help="forget a name")
    remove.add_argument("name", metavar="NAME")
    add_json(remove)
    remove.set_defaults(handler=run_remove)
    listing = commands.add_parser("list", help="every name and its key")
    add_json(listing)
    listing.set_defaults(handler=run_list)


def run_add(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    home.check_private()
    key = parse_public_key(args.key)
    book = load_contacts(home).added(args.name, key)
    book.save(home)
    name = book.name_of(key)
    out.result(
        {"name": name, "public_key": key.hex(), "fingerprint": fingerprint(key)},
        [f"{name} = {fingerprint(key)}"],
    )
    return Exit.OK


def run_remove(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    home.check_private()
    load_contacts(home).removed(args.name).save(home)
    out.result({"removed": args.name}, [f"forgot {args.name}"])
    return Exit.OK


def run_list(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    home.check_private()
    book = load_contacts(home)
    rows = [
        {"name": name, "public_key": key.hex(), "fingerprint": fingerprint(key)}
        for name, key in sorted(book.by_name.items())
    ]
    out.result(
        {"contacts": rows},
        [f"{r['name']:24} {r['fingerprint']}" for r in rows] or ["no contacts yet"],
    )
    return Exit.OK
