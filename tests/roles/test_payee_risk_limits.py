"""The payee's offline risk limits, enforced by the real payee role over the virtual radio.

The invariant a payee (a market stall, a kiosk) cares about: offline, a payer can take it
for at most the configured limits (per payment, per payer and day, and a lower one while the
revocation list is stale), whatever the payer's allowance says; the refusal carries its code
and leaves no receipt behind, and nothing the payee stored earlier is lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import anyio
import pytest

from p2ppay.errors import AppError, AppErrorCode, WalletError
from p2ppay.roles import AutoApprove, PayeeRole, PayerChoice, PayerRole
from p2ppay.roles.radio import pay_on_virtual_radio
from p2ppay.wallet import WalletConfig, load_config, save_config
from protocol.risk import RiskLimits, RiskPolicy
from tests.cli_world import cli
from tests.world import Homes, make_homes, now_s

pytestmark = pytest.mark.anyio

QUICK = PayerChoice(listen=0.2, within=10)
TIGHT = RiskPolicy(
    limits=MappingProxyType(
        {"EUR": RiskLimits(per_payment=15_00, per_payer_day=20_00, stale_list=15_00)}
    )
)


def _fresh_list(homes: Homes) -> None:
    with homes.open_payee() as payee:
        payee.store.trust.replace_revocations([], version=1, now=now_s())


async def _pay(homes: Homes, amount: int, *, risk: RiskPolicy | None) -> tuple[str, str, bytes]:
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(wallet=payer_wallet, approver=AutoApprove(limit=50_00, currency="EUR"))
        payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1, risk=risk)
        invoice = payee.new_invoice(amount=amount, currency="EUR")
        with anyio.fail_after(30):
            payer_out, payee_out = await pay_on_virtual_radio(payer, payee, invoice)
        return str(payer_out.error), str(payee_out.error), invoice.doc.id


async def test_a_payer_over_the_daily_limit_is_refused_and_gets_no_receipt(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    _fresh_list(homes)
    first = await _pay(homes, 12_50, risk=TIGHT)
    assert first[:2] == ("None", "None")
    payer_error, payee_error, invoice_id = await _pay(homes, 12_50, risk=TIGHT)
    assert payee_error == payer_error == "RISK_OVER_PAYER_DAY_LIMIT"
    with homes.open_payee() as payee:
        assert payee.store.payments.payment(invoice_id) is None
        assert payee.store.payments.receipt(invoice_id) is None
        assert payee.store.payments.receipt(first[2]) is not None  # the first is kept
    with homes.open_payer() as payer:
        assert payer.store.payments.receipt(invoice_id) is None


async def test_an_invoice_above_the_per_payment_limit_is_never_signed(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    _fresh_list(homes)
    with homes.open_payee() as payee_wallet:
        role = PayeeRole(wallet=payee_wallet, risk=TIGHT)
        with pytest.raises(AppError) as err:
            role.new_invoice(amount=15_01, currency="EUR")
        assert err.value.code is AppErrorCode.INVOICE_NOT_PAYABLE
        assert "RISK_OVER_PAYMENT_LIMIT" in err.value.message
        assert "15.00 EUR" in err.value.message
        assert payee_wallet.store.sessions.history() == []


async def test_a_payee_that_never_synced_takes_only_the_stale_list_limit(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)  # trusts the issuer by hand, no revocation list ever
    with homes.open_payee() as payee_wallet:
        role = PayeeRole(wallet=payee_wallet)  # the defaults: 30.00 EUR while stale
        with pytest.raises(AppError) as err:
            role.new_invoice(amount=30_01, currency="EUR")
        assert "RISK_OVER_STALE_LIST_LIMIT" in err.value.message
        assert role.new_invoice(amount=30_00, currency="EUR").doc.amount == 30_00


def test_limits_come_from_the_wallet_config_and_bad_ones_are_reported(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    limits = {"EUR": {"per_payment": "5.00", "per_payer_day": "8.00", "stale_list": "2.00"}}
    save_config(homes.payee, WalletConfig(offline_limits=limits))
    with homes.open_payee() as payee_wallet:
        role = PayeeRole(wallet=payee_wallet)
        assert role.risk_policy().for_currency("EUR").per_payer_day == 8_00
    shown = json.loads(cli("--home", str(homes.payee.root), "limits", "--json").stdout)
    assert shown["limits"]["EUR"] == limits["EUR"]
    assert shown["revocation_list"] == {
        "version": None,
        "fetched_at": None,
        "age": None,
        "stale": True,
    }
    homes.payee.config_file.write_text(
        json.dumps({"offline_limits": {"EUR": {"per_payment": "1.5.0"}}})
    )
    with pytest.raises(WalletError) as err:
        load_config(homes.payee)
    assert err.value.code is AppErrorCode.CONFIG_CORRUPT
    assert "offline_limits.EUR" in err.value.message
