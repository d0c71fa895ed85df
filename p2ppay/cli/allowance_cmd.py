"""``allowance import FILE``: take an issuer-signed allowance into the wallet;
``allowance request AMOUNT CURRENCY``: get one from the ledger (reserving the amount);
``allowance list``: every allowance the wallet holds, active first (read-only, offline)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from p2ppay.cli.common import add_ca_file, add_json, home_of, now_s, read_input, unlock
from p2ppay.cli.humane import fingerprint, local_time, money
from p2ppay.cli.output import Exit, Output
from p2ppay.store import AllowanceRecord
from p2ppay.wallet import open_store
from protocol import format_amount

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    allowance = subparsers.add_parser("allowance", help="offline spending allowances")
    commands = allowance.add_subparsers(dest="allowance_command", metavar="COMMAND", required=True)
    imp = commands.add_parser("import", help="import an allowance file")
    imp.add_argument("file", type=Path, metavar="FILE")
    add_json(imp)
    imp.set_defaults(handler=run_import)
    req = commands.add_parser("request", help="ask the ledger for an allowance (reserves money)")
    req.add_argument("amount", metavar="AMOUNT", help="decimal, e.g. 20.00")
    req.add_argument("currency", metavar="CURRENCY")
    req.add_argument("--ledger", default=None, metavar="URL", help="default: the registered one")
    add_ca_file(req)
    req.add_argument("--valid-for", type=int, default=None, metavar="SECONDS")
    add_json(req)
    req.set_defaults(handler=run_request)
    listing = commands.add_parser("list", help="the allowances this wallet holds")
    add_json(listing)
    listing.set_defaults(handler=run_list)


def _allowance_json(record: AllowanceRecord, *, now: int) -> dict[str, Any]:
    currency = record.currency
    return {
        "issuer": record.issuer_key.hex(),
        "serial": record.serial,
        "currency": currency,
        "limit": format_amount(record.limit_minor, currency),
        "spent": format_amount(record.spent_minor, currency),
        "left": format_amount(record.remaining_minor, currency),
        "not_before": record.not_before,
        "not_after": record.not_after,
        "active": record.active,
        "expired": now > record.not_after,
        "last_counter": record.last_counter,
    }


def run_list(args: argparse.Namespace, out: Output) -> int:
    now = now_s()
    with open_store(home_of(args), now=now, readonly=True) as store:
        records = sorted(store.allowances.all(), key=lambda a: (not a.active, -a.imported_at))
    lines = []
    for record in records:
        state = "active" if record.active else "replaced"
        if now > record.not_after:
            state = "expired"
        lines.append(
            f"{record.currency} #{record.serial} ({state}): "
            f"{money(record.remaining_minor, record.currency)} left of "
            f"{money(record.limit_minor, record.currency)}, valid "
            f"{local_time(record.not_before)} to {local_time(record.not_after)}, "
            f"issuer {fingerprint(record.issuer_key)}"
        )
    out.result(
        {"allowances": [_allowance_json(r, now=now) for r in records]},
        lines or ["no allowance: `allowance import FILE` or `allowance request AMOUNT CURRENCY`"],
    )
    return Exit.OK


def run_import(args: argparse.Namespace, out: Output) -> int:
    signed = read_input(args.file)
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


def run_request(args: argparse.Namespace, out: Output) -> int:
    """``allowance request AMOUNT CURRENCY``: the ledger reserves AMOUNT and signs an allowance,
    which is verified and imported like a file (p2ppay/sync/wallet_ops.py)."""
    import anyio

    from p2ppay.sync import LedgerClient, ledger_ca_file, ledger_url, request_allowance
    from protocol.money import parse_amount

    currency = args.currency.upper()
    amount = parse_amount(args.amount, currency)
    home = home_of(args)
    url = ledger_url(home, args.ledger)
    with unlock(home) as wallet:

        async def work() -> AllowanceRecord:
            async with LedgerClient(
                url, wallet.identity.signing_key, ca_file=ledger_ca_file(home, args.ca_file)
            ) as client:
                _, record = await request_allowance(
                    wallet,
                    client,
                    amount_minor=amount,
                    currency=currency,
                    now=now_s(),
                    valid_for=args.valid_for,
                )
                return record

        record: AllowanceRecord = anyio.run(work)
    limit = format_amount(record.limit_minor, record.currency)
    out.result(
        {
            "issuer": record.issuer_key.hex(),
            "serial": record.serial,
            "currency": record.currency,
            "limit": limit,
            "not_after": record.not_after,
        },
        [f"allowance {record.serial} from the ledger: {limit} {record.currency} offline"],
    )
    return Exit.OK
