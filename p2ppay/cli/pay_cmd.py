"""``p2ppay pay``: be the payer. Advertise, let a payee connect, approve, pay, keep the receipt.

With ``--once`` one session is served and the exit code says whether it completed. Without
it, payees are served one after another until SIGINT or SIGTERM, which end it cleanly (exit
0); with ``--json`` each session prints one JSON line.

Automatic approval works like a contactless card's offline limits: ``--auto-approve-up-to X``
approves ONE payment of at most X in this run; ``--auto-approve-count N`` and
``--auto-approve-total Y`` allow more (N payments, each at most X, together at most Y);
``--payee KEY`` (repeatable) restricts it to known payees. Past a limit the payer asks on
the terminal, or, with no terminal, declines (the payee hears SESSION_DECLINED). Each
automatic approval is logged on stderr with the payee's key and the short authentication
string.

On the ``os`` backend the payer refuses to start (PUBLIC_ADDRESS) when BlueZ would advertise
from the adapter's fixed address (LE privacy off), and says how to turn privacy on;
``--allow-public-address`` is the explicit way out. ``p2ppay doctor`` shows the setting.
"""

from __future__ import annotations

import argparse
import signal
import sys

import anyio
from anyio.abc import TaskStatus

from gatt.link import LinkOptions
from p2ppay.cli.common import add_adapter, add_json, home_of, int_in, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.cli.terminal import TerminalPrompt
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles import (
    Approver,
    AutoApprovalLimits,
    CappedAutoApprove,
    PayerRole,
    PromptApprove,
    SessionOutcome,
    decline_all,
)
from p2ppay.roles.radio import payer_peripheral
from p2ppay.wallet import Wallet, parse_public_key
from p2ppay.wallet.contacts import load_contacts
from protocol import parse_amount

__all__ = ["register"]

RETRY_WINDOW = 30.0
"""Seconds ``pay --once`` stays on the air for the payee's retry after a link lost once our
payment went out (the payee's own retry scans for up to its ``--within``)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pay = subparsers.add_parser("pay", help="be the payer: advertise and pay an invoice")
    add_adapter(pay)
    pay.add_argument(
        "--once",
        action="store_true",
        help="serve one payee, then exit (a payment whose link was lost is first kept on offer "
        f"for the payee's retry, up to {RETRY_WINDOW:g} s)",
    )
    pay.add_argument(
        "--auto-approve-up-to",
        metavar="AMOUNT",
        default=None,
        help="approve ONE payment of at most AMOUNT (the allowance's currency) without asking",
    )
    pay.add_argument(
        "--auto-approve-count",
        metavar="N",
        type=int,
        default=None,
        help="with --auto-approve-up-to: approve up to N payments automatically (default 1)",
    )
    pay.add_argument(
        "--auto-approve-total",
        metavar="AMOUNT",
        default=None,
        help="with --auto-approve-up-to: at most AMOUNT in all automatic payments together "
        "(default: up-to x count)",
    )
    pay.add_argument(
        "--payee",
        metavar="KEY",
        action="append",
        default=[],
        help="auto-approve only payments to this payee public key (64 hex digits; repeatable)",
    )
    pay.add_argument(
        "--allow-public-address",
        action="store_true",
        help="advertise even from the adapter's fixed address (os backend with BlueZ privacy "
        "off): every session can then be linked to this device",
    )
    pay.add_argument("--currency", default=None, help="pay from the allowance in this currency")
    pay.add_argument(
        "--mtu", type=int_in(23, 517), default=517, help="largest ATT MTU to accept (23..517)"
    )
    add_json(pay)
    pay.set_defaults(handler=run)


def _limits(args: argparse.Namespace, currency: str) -> AutoApprovalLimits:
    per_payment = parse_amount(args.auto_approve_up_to, currency)
    count = 1 if args.auto_approve_count is None else args.auto_approve_count
    total = (
        per_payment * count
        if args.auto_approve_total is None
        else parse_amount(args.auto_approve_total, currency)
    )
    try:
        return AutoApprovalLimits(
            currency=currency,
            per_payment=per_payment,
            total=total,
            count=count,
            payees=frozenset(parse_public_key(key) for key in args.payee),
        )
    except ValueError as exc:
        raise AppError(AppErrorCode.BAD_APPROVAL_LIMITS, str(exc)) from exc


def _approver(args: argparse.Namespace, wallet: Wallet, out: Output) -> Approver:
    prompt = (
        PromptApprove(ask=TerminalPrompt(), name_of=load_contacts(wallet.home).name_of)
        if sys.stdin.isatty()
        else None
    )
    if args.auto_approve_up_to is None:
        if args.auto_approve_count is not None or args.auto_approve_total is not None:
            raise AppError(
                AppErrorCode.BAD_APPROVAL_LIMITS, "these limits need --auto-approve-up-to"
            )
        if prompt is not None:
            return prompt
        raise AppError(
            AppErrorCode.APPROVAL_POLICY_REQUIRED,
            "no terminal to ask on: pass --auto-approve-up-to AMOUNT",
        )
    state = wallet.store.allowances.payer_position(args.currency)
    if state.allowance is None:
        raise AppError(AppErrorCode.NO_ALLOWANCE, "import an allowance before paying")
    return CappedAutoApprove(
        limits=_limits(args, state.allowance.currency), fallback=prompt, log=out.progress
    )


def _report(out: Output, outcome: SessionOutcome) -> None:
    if outcome.completed:
        line = f"paid {outcome.amount} {outcome.currency} for invoice {outcome.invoice_id}"
    else:
        line = f"session {outcome.status}: {outcome.error} {outcome.reason}".rstrip()
    out.result(outcome.as_json(), [line])


def run(args: argparse.Namespace, out: Output) -> int:
    with unlock(home_of(args)) as wallet:
        # Nothing to pay with (or only an expired allowance): say so before advertising.
        PayerRole(wallet=wallet, approver=decline_all, currency=args.currency).check_can_pay()
        role = PayerRole(
            wallet=wallet,
            approver=_approver(args, wallet, out),
            progress=out.progress,
            currency=args.currency,
        )
        options = LinkOptions(max_att_mtu=args.mtu, allow_public_address=args.allow_public_address)
        return anyio.run(_serve, role, args.adapter, options, args.once, out)


async def _serve(
    role: PayerRole, adapter: str, options: LinkOptions, once: bool, out: Output
) -> int:
    async with payer_peripheral(adapter, options) as peripheral:
        if once:
            outcome = await role.serve_one(peripheral)
            if outcome.status == "resumable":
                # Our payment went out, the receipt did not come: the payee retries by our
                # address, so stay on the air (same address) a little before giving up.
                out.progress(
                    f"link lost after paying; waiting up to {RETRY_WINDOW:g} s for the payee "
                    "to retry"
                )
                with anyio.move_on_after(RETRY_WINDOW):
                    outcome = await role.serve_one(peripheral, same_address=True)
            _report(out, outcome)
            return Exit.OK if outcome.completed else Exit.FAILED
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            # Listen before serving, so a signal is never lost to the default handler.
            await tg.start(_stop_on_signal, tg.cancel_scope, out)
            try:
                last: SessionOutcome | None = None
                while True:
                    resumable = last is not None and last.status == "resumable"
                    last = await role.serve_one(peripheral, same_address=resumable)
                    _report(out, last)
            except Exception as exc:  # re-raised below as itself, not in an ExceptionGroup
                failure = exc
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure  # the CLI prints its typed code (an adapter gone: ADAPTER_UNAVAILABLE)
    return Exit.OK


async def _stop_on_signal(
    scope: anyio.CancelScope, out: Output, *, task_status: TaskStatus[None]
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            out.progress(f"{signal.Signals(signum).name}: stopping")
            scope.cancel()
            return
