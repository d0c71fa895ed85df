"""A whole payment between two wallets on Bumble's in-process virtual radio.

    .venv/bin/python examples/virtual_payment.py [WORKDIR]

Creates an issuer, a payer (with an offline allowance) and a payee in WORKDIR (a temporary
directory by default), then runs one payment of 4.20 EUR through the real roles: BLE GATT,
Noise handshake, signed CBOR documents, SQLite stores on both sides.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio

from p2ppay.roles import AutoApprove, PayeeRole, PayerRole
from p2ppay.roles.radio import pay_on_virtual_radio
from p2ppay.wallet import WalletHome, init_wallet, open_wallet
from p2ppay.wallet.issuer import init_issuer, open_issuer


def make_wallets(root: Path) -> tuple[WalletHome, WalletHome]:
    now = int(time.time())
    issuer, payer, payee = (WalletHome.resolve(root / n) for n in ("issuer", "payer", "payee"))
    issuer_key = init_issuer(issuer, now=now)
    payer_id = init_wallet(payer, passphrase=None, now=now)
    init_wallet(payee, passphrase=None, now=now)
    allowance = open_issuer(issuer).grant(payer_id.public_key, 50_00, "EUR", now=now)
    with open_wallet(payer, passphrase=None, now=now) as wallet:
        wallet.import_allowance(allowance, now=now)
    with open_wallet(payee, passphrase=None, now=now) as wallet:
        wallet.trust_issuer(issuer_key, now=now)
    return payer, payee


async def pay(payer_home: WalletHome, payee_home: WalletHome) -> None:
    now = int(time.time())
    with (
        open_wallet(payer_home, passphrase=None, now=now) as payer_wallet,
        open_wallet(payee_home, passphrase=None, now=now) as payee_wallet,
    ):
        payer = PayerRole(
            wallet=payer_wallet,
            approver=AutoApprove(limit=10_00, currency="EUR"),
            progress=lambda m: print("payer:", m),
        )
        payee = PayeeRole(wallet=payee_wallet, progress=lambda m: print("payee:", m))
        invoice = payee.new_invoice(amount=4_20, currency="EUR", memo="tea")
        with anyio.fail_after(60):
            _, outcome = await pay_on_virtual_radio(payer, payee, invoice)
        print(f"{outcome.status}: {outcome.amount} {outcome.currency}, code {outcome.sas}")


def main() -> None:
    if len(sys.argv) > 1:
        root = Path(sys.argv[1])
        root.mkdir(parents=True, exist_ok=True)
        anyio.run(pay, *make_wallets(root))
        return
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(pay, *make_wallets(Path(tmp)))


if __name__ == "__main__":
    main()
