"""``p2ppay conformance``: check a device under test (DUT) against the specification, over
the air, by playing the other side of every case (:mod:`p2ppay.conformance`).

``--role payer`` tests a payer: the runner is a payee (a central) that finds the first payer
advertising and connects to it. ``--role payee`` tests a payee: the runner is a payer (a
peripheral) the DUT connects to. Before each session the operator is told on stderr what to
do on the DUT; on a terminal the runner waits for Enter, with ``--non-interactive`` (or
stdin not a terminal) it goes straight on and waits ``--within`` seconds for the DUT.

Money: the runner's wallet is a throwaway key made for the run. Testing a payee it pays with
a throwaway allowance granted for the run by the development issuer in ``--home``
(``p2ppay --home H issuer init`` once; the DUT must trust the key it prints). Testing a payer
it needs nothing (the DUT's own issuer is taken as trusted: the protocol is under test, not
the DUT's issuer).

Prints a table (one row per case) and, with ``--json``, one object: ``passed``, ``cases``
(each with ``expected``, ``observed``, ``problems``), and on failure ``error``
(``CONFORMANCE_FAILED`` or ``DEVICE_NOT_FOUND``). Exit 0 only when every case passed, 1
when one failed or the DUT never showed up.
"""

from __future__ import annotations

import argparse
import sys

import anyio

from gatt.link import LinkOptions
from p2ppay.cli.common import add_adapter, add_json, home_of, int_in, now_s, seconds_in
from p2ppay.cli.output import Exit, Output
from p2ppay.conformance import (
    Action,
    Case,
    Context,
    Radio,
    Report,
    Role,
    cases_for,
    instruction,
    run_cases,
)
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles.driver import wall_ms
from p2ppay.roles.radio import payee_central, payer_peripheral
from p2ppay.wallet.issuer import DevIssuer, open_issuer
from protocol import format_amount, parse_amount
from protocol.documents import Allowance
from protocol.keys import public_key
from protocol.verify import open_as

__all__ = ["register"]

ALLOWANCE_VALIDITY = 24 * 3600


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = subparsers.add_parser(
        "conformance", help="check another implementation's payer or payee over the air"
    )
    cmd.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="the role of the device under test",
    )
    add_adapter(cmd)
    cmd.add_argument(
        "--mtu", type=int_in(23, 517), default=517, help="largest ATT MTU to use (23..517)"
    )
    cmd.add_argument(
        "--amount", default="1.00", help="what the runner invoices or is invoiced (default 1.00)"
    )
    cmd.add_argument("--currency", default="EUR", help="its currency (default EUR)")
    cmd.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this case (repeatable; default: all, in order)",
    )
    cmd.add_argument(
        "--within",
        type=seconds_in(1, 3600),
        default=60.0,
        help="seconds the DUT has to show up for each session (default 60)",
    )
    cmd.add_argument(
        "--patience",
        type=seconds_in(1, 600),
        default=10.0,
        help="seconds the DUT has to answer what needs no person (default 10)",
    )
    cmd.add_argument(
        "--non-interactive",
        action="store_true",
        help="never wait for Enter between cases (scripts; also when stdin is not a terminal)",
    )
    add_json(cmd)
    cmd.set_defaults(handler=run)


class _ConsoleOperator:
    """Tells the person at the DUT what to do, on stderr; waits for Enter if interactive."""

    def __init__(self, *, role: Role, amount: int, currency: str, out: Output, wait: bool):
        self._role, self._amount, self._currency = role, amount, currency
        self._out, self._wait = out, wait
        self._count = 0

    async def __call__(self, case: Case, action: Action) -> None:
        text = instruction(self._role, action, amount=self._amount, currency=self._currency)
        self._out.notice(f"[{case.name}] on the device: {text}")
        if self._wait:
            self._out.notice("press Enter when ready")
            await anyio.to_thread.run_sync(sys.stdin.readline)


def run(args: argparse.Namespace, out: Output) -> int:
    role = Role(args.role)
    amount = parse_amount(args.amount, args.currency)
    try:
        cases = cases_for(role, tuple(args.case))
    except KeyError as exc:
        names = ", ".join(c.name for c in cases_for(role))
        out.error("USAGE", f"no such {role} case: {exc.args[0]} (cases: {names})")
        return Exit.USAGE
    now = now_s()
    report = Report(
        role=role,
        adapter=args.adapter,
        amount=format_amount(amount, args.currency),
        currency=args.currency,
    )
    operator = _ConsoleOperator(
        role=role,
        amount=amount,
        currency=args.currency,
        out=out,
        wait=not args.non_interactive and sys.stdin.isatty(),
    )
    ctx = Context(
        radio=Radio(within=args.within),
        operator=operator,
        clock=wall_ms,
        amount=amount,
        currency=args.currency,
        patience=args.patience,
    )
    if role is Role.PAYEE:
        issuer = _issuer(args)
        report.issuer = issuer.public_key.hex()
        raw = issuer.grant(
            public_key(ctx.identity),
            amount * 10,
            args.currency,
            now=now - 60,
            valid_for=ALLOWANCE_VALIDITY,
        )
        ctx.allowance = open_as(raw, Allowance)
        out.notice(f"the device must trust issuer {report.issuer} (ours: `trust-issuer KEY`)")
    options = LinkOptions(max_att_mtu=args.mtu)
    anyio.run(
        lambda: _run(
            ctx, role=role, cases=cases, report=report, adapter=args.adapter, options=options
        )
    )
    out.result(report.to_json(), report.lines())
    return Exit.OK if report.passed else Exit.FAILED


def _issuer(args: argparse.Namespace) -> DevIssuer:
    try:
        return open_issuer(home_of(args))
    except AppError as exc:
        if exc.code is not AppErrorCode.ISSUER_NOT_FOUND:
            raise
        raise AppError(
            exc.code,
            "testing a payee, the runner pays with a throwaway allowance from the development "
            "issuer in --home: run `p2ppay --home DIR issuer init` once and make the device "
            "trust the key it prints",
        ) from exc


async def _run(
    ctx: Context,
    *,
    role: Role,
    cases: tuple[Case, ...],
    report: Report,
    adapter: str,
    options: LinkOptions,
) -> None:
    if role is Role.PAYER:
        async with payee_central(adapter, options) as central:
            ctx.radio.central = central
            await run_cases(ctx, role, cases, report)
    else:
        async with payer_peripheral(adapter, options) as peripheral:
            ctx.radio.peripheral = peripheral
            await run_cases(ctx, role, cases, report)
