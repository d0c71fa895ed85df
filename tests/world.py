"""A little world for application tests: an issuer, a payer and a payee in real homes.

Everything is real: key files, SQLite stores, a signed allowance imported by the payer,
the issuer trusted by the payee. Only the clock is passed in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from p2ppay.roles import AutoApprove, PayeeRole, PayerRole, SessionOutcome
from p2ppay.roles.radio import pay_on_virtual_radio
from p2ppay.wallet import Wallet, WalletHome, init_wallet, open_wallet
from p2ppay.wallet.issuer import init_issuer, open_issuer
from protocol import Invoice, SignedDocument


def now_s() -> int:
    return int(time.time())


@dataclass(frozen=True, kw_only=True)
class Homes:
    issuer: WalletHome
    payer: WalletHome
    payee: WalletHome
    issuer_key: bytes

    def open_payer(self) -> Wallet:
        return open_wallet(self.payer, passphrase=None, now=now_s())

    def open_payee(self) -> Wallet:
        return open_wallet(self.payee, passphrase=None, now=now_s())


def make_homes(
    root: Path, *, limit: int = 50_00, currency: str = "EUR", trust: bool = True
) -> Homes:
    """Issuer, payer (with an allowance of ``limit``) and payee (trusting the issuer)."""
    now = now_s()
    issuer_home = WalletHome.resolve(root / "issuer")
    issuer_key = init_issuer(issuer_home, now=now)
    payer_home = WalletHome.resolve(root / "payer")
    payee_home = WalletHome.resolve(root / "payee")
    payer_id = init_wallet(payer_home, passphrase=None, now=now)
    init_wallet(payee_home, passphrase=None, now=now)
    allowance = open_issuer(issuer_home).grant(payer_id.public_key, limit, currency, now=now)
    with open_wallet(payer_home, passphrase=None, now=now) as payer:
        payer.import_allowance(allowance, now=now)
    if trust:
        with open_wallet(payee_home, passphrase=None, now=now) as payee:
            payee.trust_issuer(issuer_key, now=now)
    return Homes(issuer=issuer_home, payer=payer_home, payee=payee_home, issuer_key=issuer_key)


def spent(wallet: Wallet) -> int:
    """What the payer has spent under its active allowance (it must have one)."""
    allowance = wallet.store.allowances.payer_position().allowance
    assert allowance is not None
    return allowance.spent_minor


def documents(wallet: Wallet, invoice_id: bytes) -> tuple[bytes | None, bytes | None]:
    """The exact payment and receipt bytes this wallet stored for an invoice (None if not)."""
    payment = wallet.store.payments.payment(invoice_id)
    receipt = wallet.store.payments.receipt(invoice_id)
    return (
        None if payment is None else payment.signed,
        None if receipt is None else receipt.signed,
    )


async def pay_once(
    homes: Homes,
    *,
    amount: int,
    currency: str = "EUR",
    mtu: int = 247,
    approve_up_to: int = 20_00,
) -> tuple[SessionOutcome, SessionOutcome, SignedDocument[Invoice]]:
    """One payer session and one payee request on a fresh virtual radio."""
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(
            wallet=payer_wallet, approver=AutoApprove(limit=approve_up_to, currency="EUR")
        )
        payee = PayeeRole(wallet=payee_wallet)
        invoice = payee.new_invoice(amount=amount, currency=currency, memo="coffee")
        with anyio.fail_after(30):
            payer_out, payee_out = await pay_on_virtual_radio(payer, payee, invoice, mtu=mtu)
    return payer_out, payee_out, invoice
