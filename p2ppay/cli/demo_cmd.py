"""``p2ppay demo``: a complete payment between two throw-away wallets, in one process.

It starts an in-process ledger (SQLite, HTTP on loopback), creates a payer and a payee in a
temporary directory, funds the payer and gets it an offline allowance from the ledger, lets
the payee learn the ledger's issuer key, then runs one real payment with no network over
Bumble's in-process virtual radio (real ATT/GATT, Noise handshake, signed CBOR documents,
SQLite stores), exports and re-verifies the bundle, and finally syncs both wallets and shows
the settled balances. Each step is printed; ``--json`` prints one summary object instead.
Exit 0 only when the payment completed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from p2ppay.cli.common import add_json, now_s
from p2ppay.cli.output import Exit, Output
from p2ppay.roles import AutoApprove, PayeeRole, PayerRole, SessionOutcome
from p2ppay.roles.radio import pay_on_virtual_radio
from p2ppay.wallet import Wallet, WalletHome, init_wallet, open_wallet
from protocol import format_amount, parse_amount
from protocol.bundle import encode_bundle, verify_bundle

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser("demo", help="a complete payment on the built-in virtual radio")
    demo.add_argument("--amount", default="12.50", help="amount to pay (default 12.50)")
    demo.add_argument("--currency", default="EUR", help="currency (default EUR)")
    demo.add_argument("--mtu", type=int, default=247, help="ATT MTU to use (23-517, default 247)")
    demo.add_argument(
        "--keep", type=Path, default=None, metavar="DIR", help="keep the wallets in DIR"
    )
    add_json(demo)
    demo.set_defaults(handler=run)


class _Steps:
    """Numbered, timed steps: printed as they happen, or collected for the JSON summary."""

    def __init__(self, out: Output) -> None:
        self._out = out
        self._start = time.perf_counter()
        self.items: list[dict[str, Any]] = []

    def say(self, who: str, message: str) -> None:
        ms = round((time.perf_counter() - self._start) * 1000, 1)
        self.items.append({"ms": ms, "who": who, "message": message})
        if not self._out.json_mode:
            print(f"{ms:8.1f} ms  [{who}] {message}", flush=True)

    def by(self, who: str) -> Callable[[str], None]:
        return lambda message: self.say(who, message)


def run(args: argparse.Namespace, out: Output) -> int:
    amount = parse_amount(args.amount, args.currency)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return _demo(args.keep, amount, args, out)
    with tempfile.TemporaryDirectory(prefix="p2ppay-demo-") as root:
        return _demo(Path(root), amount, args, out)


def _demo(root: Path, amount: int, args: argparse.Namespace, out: Output) -> int:
    steps = _Steps(out)
    started = time.perf_counter()
    summary = anyio.run(_demo_flow, root, amount, args.currency, args.mtu, steps)
    summary["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    summary["mtu"] = args.mtu
    summary["steps"] = steps.items
    if out.json_mode:
        out.result(summary)
    else:
        print(
            f"\n{summary['status']}: {summary['amount']} {summary['currency']} "
            f"paid in {summary['elapsed_ms']} ms over the radio, "
            f"short authentication string {summary['sas']}"
        )
        for role in ("payer", "payee"):
            balance = summary.get("balances", {}).get(role)
            if balance:
                print(f"  {role} at the ledger: {_balance_text(balance, summary['currency'])}")
    return Exit.OK if summary["status"] == "completed" else Exit.FAILED


def _balance_text(balance: dict[str, str] | None, currency: str) -> str:
    if balance is None:
        return "no account line"
    return (
        f"balance {balance['balance']}, reserve {balance['reserve']}, "
        f"claims {balance['claims']} {currency}"
    )


async def _demo_flow(
    root: Path, amount: int, currency: str, mtu: int, steps: _Steps
) -> dict[str, Any]:
    from p2ppay.ledger import running_ledger
    from p2ppay.sync.flows import fund_wallet, sync_wallet, wallet_statement

    allowance_amount = max(amount * 4, parse_amount("50", currency))
    now = now_s()
    async with running_ledger() as ledger:
        steps.say("ledger", f"in-process ledger on {ledger.url} (SQLite)")
        homes = {name: WalletHome.resolve(root / name) for name in ("payer", "payee")}
        payer_id = init_wallet(homes["payer"], passphrase=None, now=now)
        payee_id = init_wallet(homes["payee"], passphrase=None, now=now)
        steps.say("payer", f"created wallet {payer_id.wallet_id}")
        steps.say("payee", f"created wallet {payee_id.wallet_id}")
        with (
            open_wallet(homes["payer"], passphrase=None, now=now) as payer_wallet,
            open_wallet(homes["payee"], passphrase=None, now=now) as payee_wallet,
        ):
            deposit = allowance_amount * 2
            record = await fund_wallet(
                ledger.url,
                ledger.admin_token,
                payer_wallet,
                deposit=deposit,
                allowance=allowance_amount,
                currency=currency,
                now=now,
            )
            assert record is not None
            steps.say(
                "payer",
                f"registered, {format_amount(deposit, currency)} {currency} deposited; "
                f"offline allowance {record.serial} of "
                f"{format_amount(allowance_amount, currency)} {currency} from the ledger "
                f"({len(record.signed)} bytes)",
            )
            await fund_wallet(
                ledger.url,
                ledger.admin_token,
                payee_wallet,
                deposit=0,
                allowance=0,
                currency=currency,
                now=now,
            )
            await sync_wallet(ledger.url, payee_wallet, now=now_s)
            issuers = len(payee_wallet.store.trust.issuers())
            steps.say("payee", f"registered; synced the ledger's issuer keys ({issuers})")
            steps.say("radio", "both go offline: the payment uses BLE only")
            payer = PayerRole(
                wallet=payer_wallet,
                approver=AutoApprove(limit=amount, currency=currency),
                progress=steps.by("payer"),
            )
            payee = PayeeRole(wallet=payee_wallet, progress=steps.by("payee"))
            invoice = payee.new_invoice(amount=amount, currency=currency, memo="p2ppay demo")
            steps.say("payee", f"signed invoice {invoice.doc.id.hex()} ({len(invoice.raw)} bytes)")
            radio_started = time.perf_counter()
            with anyio.fail_after(60):
                payer_out, payee_out = await pay_on_virtual_radio(payer, payee, invoice, mtu=mtu)
            elapsed_ms = round((time.perf_counter() - radio_started) * 1000, 1)
            summary = _summary(
                payee_wallet,
                payer_out=payer_out,
                payee_out=payee_out,
                issuer_key=record.issuer_key,
                elapsed_ms=elapsed_ms,
                steps=steps,
            )
            if summary["status"] != "completed":
                return summary
            steps.say("radio", "both are online again")
            synced = {}
            for role, wallet in (("payee", payee_wallet), ("payer", payer_wallet)):
                report = await sync_wallet(ledger.url, wallet, now=now_s)
                synced[role] = report.as_json()
                steps.say(role, f"synced: {json.dumps(report.as_json(), sort_keys=True)}")
            summary["sync"] = synced
            balances: dict[str, dict[str, str]] = {}
            for role, wallet in (("payer", payer_wallet), ("payee", payee_wallet)):
                statement = await wallet_statement(ledger.url, wallet)
                for line in statement.balances:
                    if line.currency == currency:
                        balances[role] = {
                            "balance": line.balance,
                            "reserve": line.reserve,
                            "claims": line.claims,
                        }
                steps.say(role, f"statement: {_balance_text(balances.get(role), currency)}")
            summary["balances"] = balances
            summary["settled"] = synced["payee"]["settled"] == 1
            return summary


def _summary(
    payee_wallet: Wallet,
    *,
    payer_out: SessionOutcome,
    payee_out: SessionOutcome,
    issuer_key: bytes,
    elapsed_ms: float,
    steps: _Steps,
) -> dict[str, Any]:
    completed = payer_out.completed and payee_out.completed
    summary: dict[str, Any] = {
        "status": "completed" if completed else "failed",
        "invoice_id": payee_out.invoice_id,
        "amount": payee_out.amount,
        "currency": payee_out.currency,
        "sas": payee_out.sas,
        "payer_sas": payer_out.sas,
        "elapsed_ms": elapsed_ms,
        "payer": payer_out.as_json(),
        "payee": payee_out.as_json(),
    }
    if not completed:
        steps.say("demo", f"payment failed: {payee_out.error or payer_out.error}")
        return summary
    transfer = payee_wallet.store.lookups.transfer(bytes.fromhex(payee_out.invoice_id or ""))
    payment, receipt = transfer.payment, transfer.receipt
    assert payment is not None and receipt is not None, "a completed payee stored both"
    bundle = encode_bundle(transfer.invoice.signed, payment.signed, receipt.signed)
    verify_bundle(bundle, trusted_issuers={issuer_key})
    summary["sizes"] = {
        "invoice": len(transfer.invoice.signed),
        "payment": len(payment.signed),
        "receipt": len(receipt.signed),
        "bundle": len(bundle),
    }
    steps.say("demo", f"exported the bundle ({len(bundle)} bytes) and re-verified it offline")
    return summary
