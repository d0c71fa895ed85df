"""Whole payments between two real wallets over Bumble's virtual radio (real ATT/GATT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2ppay.store import SessionStatus, Side
from tests.world import documents, make_homes, pay_once, spent

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mtu", [23, 185, 247, 517])
async def test_a_payment_completes_and_both_stores_hold_the_same_documents(
    tmp_path: Path, mtu: int
) -> None:
    homes = make_homes(tmp_path)
    payer_out, payee_out, invoice = await pay_once(homes, amount=12_50, mtu=mtu)
    assert payer_out.status == payee_out.status == "completed"
    assert payer_out.invoice_id == payee_out.invoice_id == invoice.doc.id.hex()
    assert payer_out.amount == payee_out.amount == "12.50"
    assert payer_out.sas == payee_out.sas is not None
    with homes.open_payer() as payer, homes.open_payee() as payee:
        payment, receipt = documents(payer, invoice.doc.id)
        assert payment is not None and receipt is not None
        assert documents(payee, invoice.doc.id) == (payment, receipt)
        assert spent(payer) == 12_50


async def test_an_invoice_over_the_approval_limit_is_declined_and_moves_no_money(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path)
    payer_out, payee_out, invoice = await pay_once(homes, amount=25_00, approve_up_to=20_00)
    assert payer_out.status == payee_out.status == "failed"
    assert payee_out.error == "SESSION_DECLINED"
    with homes.open_payer() as payer, homes.open_payee() as payee:
        assert payer.store.payments.payment(invoice.doc.id) is None
        assert payee.store.payments.payment(invoice.doc.id) is None
        assert spent(payer) == 0


async def test_a_second_payment_continues_the_payers_chain(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    await pay_once(homes, amount=5_00)
    _, payee_out, _ = await pay_once(homes, amount=7_00)
    assert payee_out.status == "completed"
    with homes.open_payer() as payer:
        allowance = payer.store.allowances.payer_position().allowance
        assert allowance is not None
        assert (allowance.last_counter, allowance.spent_minor) == (2, 12_00)
    with homes.open_payee() as payee:
        history = payee.store.sessions.history()
        assert [h.status for h in history if h.role is Side.PAYEE] == [SessionStatus.COMPLETED] * 2
