"""What ``request`` and ``resume`` share: the payee's options, its role, the session, the report.

Both get one invoice paid over one adapter; they differ only in where the invoice comes from
(signed now, or read back from the store). Exit 0 only when the payment completed.
"""

from __future__ import annotations

import argparse

import anyio

from gatt.link import LinkOptions
from p2ppay.cli.common import add_adapter, add_json, int_in, seconds_in
from p2ppay.cli.output import Exit, Output
from p2ppay.roles import PayeeRole, PayerChoice, SessionOutcome
from p2ppay.roles.radio import payee_central
from p2ppay.wallet import Wallet
from protocol import Invoice, SignedDocument

__all__ = ["add_collect_options", "collect", "collect_and_report", "link_options", "payee_role"]


def add_collect_options(parser: argparse.ArgumentParser) -> None:
    """--adapter, payer choice, retries, MTU and --json."""
    add_adapter(parser)
    parser.add_argument("--tag", default=None, help="the payer's session tag (on its screen)")
    parser.add_argument(
        "--min-rssi",
        type=int_in(-127, 0),
        default=-127,
        help="ignore payers weaker than this (dBm, -127..0)",
    )
    parser.add_argument(
        "--within",
        type=seconds_in(0.5, 3600),
        default=30.0,
        help="seconds to wait for a payer (0.5..3600, default 30)",
    )
    parser.add_argument(
        "--listen",
        type=seconds_in(0.0, 30),
        default=1.0,
        help="at most this many seconds comparing payers' signals; ends early once the "
        "strongest is clear (0..30, default 1)",
    )
    parser.add_argument(
        "--tag-listen",
        type=seconds_in(0.0, 5),
        default=0.3,
        help="with --tag: seconds to listen for a second radio copying the tag, refused as "
        "PAYER_AMBIGUOUS (0..5, default 0.3)",
    )
    parser.add_argument(
        "--attempts",
        type=int_in(1, 20),
        default=3,
        help="sessions to try if the link drops (1..20, default 3)",
    )
    parser.add_argument(
        "--mtu", type=int_in(23, 517), default=517, help="largest ATT MTU to ask for (23..517)"
    )
    add_json(parser)


def payee_role(args: argparse.Namespace, wallet: Wallet, out: Output) -> PayeeRole:
    """The payee role the options describe."""
    return PayeeRole(
        wallet=wallet,
        choice=PayerChoice(
            tag=args.tag,
            min_rssi=args.min_rssi,
            within=args.within,
            listen=args.listen,
            tag_listen=args.tag_listen,
        ),
        attempts=args.attempts,
        progress=out.progress,
        on_sas=lambda sas: out.notice(
            f"short authentication string {sas}: check that the payer's screen shows the same"
        ),
        countdown=out.countdown,
        connect_timeout=link_options(args).connect_timeout,
    )


def link_options(args: argparse.Namespace) -> LinkOptions:
    """The central's link options the command line asks for."""
    return LinkOptions(max_att_mtu=args.mtu)


def collect_and_report(
    role: PayeeRole, invoice: SignedDocument[Invoice], args: argparse.Namespace, out: Output
) -> int:
    """Run the payee's sessions for ``invoice`` and print the outcome; the exit code."""
    with out.live_status():
        outcome: SessionOutcome = anyio.run(
            collect, role, args.adapter, link_options(args), invoice
        )
    if outcome.completed:
        line = f"received {outcome.amount} {outcome.currency} for invoice {outcome.invoice_id}"
    else:
        line = f"payment {outcome.status}: {outcome.error} {outcome.reason}".rstrip()
    out.result(outcome.as_json(), [line, f"short authentication string {outcome.sas}"])
    return Exit.OK if outcome.completed else Exit.FAILED


async def collect(
    role: PayeeRole, adapter: str, options: LinkOptions, invoice: SignedDocument[Invoice]
) -> SessionOutcome:
    async with payee_central(adapter, options) as central:
        return await role.collect(central, invoice)
