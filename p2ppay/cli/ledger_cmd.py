"""``ledger serve|deposit|release-held|revoke``: run the ledger, and its admin calls.

- ``p2ppay ledger serve --db URL --host 127.0.0.1 --port N [--admin-token-file PATH]
  [--issuer-key-file PATH]`` serves until interrupted.
- ``p2ppay ledger deposit WALLET_ID AMOUNT CURRENCY --ledger URL`` adds decimal ``AMOUNT`` to
  the account of ``WALLET_ID`` (``W-...``, the hex public key, or ``guarantee``: the operator
  guarantee account).
- ``p2ppay ledger release-held WALLET_ID AMOUNT CURRENCY --reason TEXT --ledger URL`` pays that
  much of the wallet's held credit out of the guarantee account (logged).
- ``p2ppay ledger revoke WALLET_ID --ledger URL [--reason TEXT]`` revokes a wallet at once.

Operator secrets: the admin token comes from ``P2PPAY_ADMIN_TOKEN`` or ``--admin-token-file``,
never from the command line (other users see it in ``ps``); ``serve`` refuses a token under
128 bits (``LEDGER_WEAK_ADMIN_TOKEN``). The issuer key file's passphrase, if it is encrypted,
comes from ``P2PPAY_ISSUER_PASSPHRASE``.
"""

from __future__ import annotations

import argparse
import math
import os
import string
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from p2ppay.cli.common import add_ca_file, add_json, needs_extra
from p2ppay.cli.output import Exit, Output
from p2ppay.clock import in_seconds, wall_ms
from p2ppay.errors import AppErrorCode
from p2ppay.ledger.errors import LedgerError
from protocol.money import parse_amount

if TYPE_CHECKING:
    from p2ppay.api.schemas import StatementOut

__all__ = ["ADMIN_TOKEN_ENV", "MIN_TOKEN_BITS", "register", "token_bits"]

ADMIN_TOKEN_ENV = "P2PPAY_ADMIN_TOKEN"
"""Environment variable holding the ledger admin token (or use ``--admin-token-file``)."""
MIN_TOKEN_BITS = 128
"""The weakest admin token ``ledger serve`` accepts."""


def token_bits(token: str) -> float:
    """An upper bound of a token's strength: length x log2(alphabet of the classes it uses)."""
    if not token:
        return 0.0
    classes = (
        set(string.digits),
        set("abcdef"),
        set(string.ascii_lowercase) - set("abcdef"),
        set(string.ascii_uppercase),
    )
    used = set(token)
    if used <= set(string.hexdigits.lower()) or used <= set(string.hexdigits.upper()):
        size = 16
    else:
        size = sum(len(c) for c in classes if used & c)
        size += 32 if used - set().union(*classes) else 0
    return len(token) * math.log2(max(size, 2)) if len(used) > 1 else 0.0


def _admin_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--admin-token-file",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"file holding the admin token (or set {ADMIN_TOKEN_ENV})",
    )
    # Accepted only to refuse it with a clear error: a token on the command line leaks.
    parser.add_argument("--admin-token", default=None, help=argparse.SUPPRESS)


def _ledger_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ledger", required=True, metavar="URL")
    add_ca_file(parser)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = subparsers.add_parser("ledger", help="the ledger service (settles synced payments)")
    commands = ledger.add_subparsers(dest="ledger_command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the ledger HTTP service")
    serve.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://...")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    _admin_options(serve)
    serve.add_argument(
        "--issuer-key-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="the issuer signing key (created 0600 if missing; default for SQLite: "
        "DB.issuer-key; required for PostgreSQL); passphrase from P2PPAY_ISSUER_PASSPHRASE",
    )
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
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes verifying bundles (default: one per CPU; 0: in-process)",
    )
    serve.add_argument(
        "--bundles-per-minute",
        type=int,
        default=None,
        metavar="N",
        help="most bundles one wallet key may send per minute (default 6000)",
    )
    serve.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        metavar="PEM",
        help="serve https with this certificate chain (with --tls-key)",
    )
    serve.add_argument(
        "--tls-key", type=Path, default=None, metavar="PEM", help="the certificate's private key"
    )
    serve.set_defaults(handler=run_serve)

    deposit = commands.add_parser("deposit", help="fund a wallet's account (admin)")
    deposit.add_argument(
        "wallet", metavar="WALLET_ID", help="W-..., the hex public key, or 'guarantee'"
    )
    deposit.add_argument("amount", metavar="AMOUNT", help="decimal, e.g. 25.00")
    deposit.add_argument("currency", metavar="CURRENCY")
    _ledger_options(deposit)
    _admin_options(deposit)
    add_json(deposit)
    deposit.set_defaults(handler=run_deposit)

    release = commands.add_parser(
        "release-held", help="pay a wallet's held credit from the guarantee account (admin)"
    )
    release.add_argument("wallet", metavar="WALLET_ID", help="W-... or the hex public key")
    release.add_argument("amount", metavar="AMOUNT", help="decimal, e.g. 25.00")
    release.add_argument("currency", metavar="CURRENCY")
    release.add_argument("--reason", required=True, help="why (kept in the ledger's log)")
    _ledger_options(release)
    _admin_options(release)
    add_json(release)
    release.set_defaults(handler=run_release_held)

    revoke = commands.add_parser("revoke", help="revoke a wallet at once (admin)")
    revoke.add_argument("wallet", metavar="WALLET_ID", help="W-... or the hex public key")
    revoke.add_argument("--reason", default="revoked by the operator")
    _ledger_options(revoke)
    _admin_options(revoke)
    add_json(revoke)
    revoke.set_defaults(handler=run_revoke)


def _weak(why: str) -> LedgerError:
    return LedgerError(AppErrorCode.LEDGER_WEAK_ADMIN_TOKEN, why)


def _token(args: argparse.Namespace, *, serving: bool = False) -> str:
    token: str
    if args.admin_token is not None:
        raise _weak(
            f"--admin-token would show the token in ps: set {ADMIN_TOKEN_ENV} or pass "
            "--admin-token-file"
        )
    if args.admin_token_file is not None:
        try:
            token = str(args.admin_token_file.read_text(encoding="utf-8")).strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise _weak(f"{args.admin_token_file}: {exc}") from exc
    else:
        token = os.environ.get(ADMIN_TOKEN_ENV, "").strip()
    if not token:
        raise _weak(f"set {ADMIN_TOKEN_ENV} or pass --admin-token-file")
    if serving and token_bits(token) < MIN_TOKEN_BITS:
        raise _weak(
            f"the admin token has under {MIN_TOKEN_BITS} bits; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token


def run_serve(args: argparse.Namespace, out: Output) -> int:
    with needs_extra("ledger"):  # the server's stack; the admin commands need only httpx
        from p2ppay.ledger.issuer_key import ISSUER_PASSPHRASE_ENV
        from p2ppay.ledger.server import serve
        from p2ppay.ledger.service import (
            DEFAULT_BUNDLES_PER_MINUTE,
            DEFAULT_GRACE,
            LedgerConfig,
        )

    per_minute = args.bundles_per_minute
    passphrase = os.environ.get(ISSUER_PASSPHRASE_ENV)
    config = LedgerConfig(
        db_url=args.db,
        admin_token=_token(args, serving=True),
        clock=in_seconds(wall_ms),
        verify_workers=max(0, args.verify_workers),
        issuer_key_file=args.issuer_key_file,
        issuer_passphrase=None if passphrase is None else passphrase.encode("utf-8"),
        grace=DEFAULT_GRACE if args.grace is None else args.grace,
        bundles_per_minute=(
            DEFAULT_BUNDLES_PER_MINUTE if per_minute is None else max(1, per_minute)
        ),
    )

    def ready(url: str) -> None:
        out.progress(f"ledger listening on {url}")

    if (args.tls_cert is None) != (args.tls_key is None):
        raise LedgerError(AppErrorCode.LEDGER_CANNOT_LISTEN, "--tls-cert and --tls-key go together")
    tls = None if args.tls_cert is None else (args.tls_cert, args.tls_key)
    anyio.run(lambda: serve(config, host=args.host, port=args.port, on_ready=ready, tls=tls))
    return Exit.OK


def _print_statement(out: Output, statement: StatementOut, currency: str, line: str) -> None:
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
            "held": row.held,
        },
        [f"{line}: balance {row.balance} {currency}, held {row.held} {currency}"],
    )


def run_deposit(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.sync import AdminClient

    currency = args.currency.upper()
    amount = parse_amount(args.amount, currency)
    token = _token(args)

    async def deposit() -> StatementOut:
        async with AdminClient(args.ledger, token, ca_file=args.ca_file) as admin:
            return await admin.deposit(args.wallet, amount, currency)

    statement: StatementOut = anyio.run(deposit)
    _print_statement(out, statement, currency, f"deposited {args.amount} {currency}")
    return Exit.OK


def run_release_held(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.sync import AdminClient

    currency = args.currency.upper()
    amount = parse_amount(args.amount, currency)
    token = _token(args)

    async def release() -> StatementOut:
        async with AdminClient(args.ledger, token, ca_file=args.ca_file) as admin:
            return await admin.release_held(args.wallet, amount, currency, args.reason)

    statement: StatementOut = anyio.run(release)
    _print_statement(out, statement, currency, f"released {args.amount} {currency}")
    return Exit.OK


def run_revoke(args: argparse.Namespace, out: Output) -> int:
    from p2ppay.api.schemas import RevocationsOut
    from p2ppay.sync import AdminClient

    token = _token(args)

    async def revoke() -> RevocationsOut:
        async with AdminClient(args.ledger, token, ca_file=args.ca_file) as admin:
            return await admin.revoke(args.wallet, args.reason)

    listed: RevocationsOut = anyio.run(revoke)
    out.result(
        {"revoked": args.wallet, "version": listed.version, "keys": listed.keys},
        [f"{args.wallet} is revoked (revocation list version {listed.version})"],
    )
    return Exit.OK
