"""The payee's invoice always names the issuers it accepts, so a payer it would refuse never
commits: no signature, no counter used, nothing left ``resumable`` (issue: the people at the
counter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles import PayeeRole
from protocol.keys import key_id
from tests.world import make_homes, now_s, pay_once, spent

pytestmark = pytest.mark.anyio


async def test_a_payer_whose_issuer_the_payee_does_not_accept_declines_before_signing(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path, trust=False)
    other_issuer = b"\x42" * 32
    with homes.open_payee() as payee:
        payee.trust_issuer(other_issuer, now=now_s())
    payer_out, payee_out, invoice = await pay_once(homes, amount=5_00)
    assert invoice.doc.issuers == (key_id(other_issuer),)
    assert payer_out.status == payee_out.status == "failed"
    # The payer refuses before the user is asked; what it tells the payee reveals nothing
    # about its wallet (the payer-privacy rules decide the code it sends).
    assert payer_out.error in {"SESSION_WALLET_CANNOT_PAY", "SESSION_DECLINED"}
    with homes.open_payer() as payer:
        assert payer.store.payments.payment(invoice.doc.id) is None
        assert spent(payer) == 0
        assert payer.store.allowances.payer_position().next_counter == 1  # no counter used
        statuses = [e.status.value for e in payer.store.sessions.history()]
        assert "resumable" not in statuses


def test_a_payee_that_trusts_no_issuer_cannot_invoice(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, trust=False)
    with homes.open_payee() as payee:
        with pytest.raises(AppError) as err:
            PayeeRole(wallet=payee).new_invoice(amount=1_00, currency="EUR")
        assert err.value.code is AppErrorCode.NO_TRUSTED_ISSUER
        assert payee.store.sessions.invoices_without_session() == []


async def test_the_invoice_names_the_trusted_issuer_and_the_payment_completes(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path)
    payer_out, _, invoice = await pay_once(homes, amount=2_00)
    assert invoice.doc.issuers == (key_id(homes.issuer_key),)
    assert payer_out.status == "completed"
