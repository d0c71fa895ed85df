"""``allowance import FILE``: take an issuer-signed allowance into the wallet."""

from __future__ import annotations

import argparse
from pathlib import Path

from p2ppay.cli.common import add_json, home_of, now_s, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppErrorCode, WalletError
from protocol import format_amount

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    allowance = subparsers.add_parser("allowance", help="offline spending allowances")
    commands = allowance.add_subparsers(dest="allowance_command", metavar="COMMAND", required=True)
    imp = commands.add_parser("import", help="import an allowance file")
    imp.add_argument("file", type=Path, metavar="FILE")
    add_json(imp)
    imp.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace, out: Output) -> int:
    try:
        signed = args.file.read_bytes()
    except OSError as exc:
        raise WalletError(AppErrorCode.HOME_UNUSABLE, f"cannot read {args.file}: {exc}") from exc
    with unlock(home_of(args)) as wallet:
        record = wallet.import_allowance(signed, now=now_s())
    limit = format_amount(record.limit_minor, record.currency)
    out.result(
        {
            "issuer": record.issuer_key.hex(),
            "serial": record.serial,
            "currency": record.currency,
            "limit": limit,
            "not_after": record.not_after,
        },
        [f"allowance {record.serial} imported: {limit} {record.currency} offline"],
    )
    return Exit.OK
