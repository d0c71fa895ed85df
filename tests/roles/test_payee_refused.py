"""A payment the payee refused with its signed Abort ends ``refused``, never ``resumable``.

End to end over Bumble's virtual radio with the real roles: the payee has the payer on its
revocation list, so it refuses the payment it received (``ACCEPT_PAYER_REVOKED``) after the
payer stored and sent it. What a person must be able to rely on afterwards: the session says
``refused`` (there is nothing to resume, and ``resume`` says so with a typed code), the sync
outbox says ``rejected`` (the ledger is still asked), and the money reads as SESSIONS.md 3.3
says: the counter stays used and the amount stays spent (the chain goes on from it), the
payment is not pending settlement, and the payee kept nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from p2ppay.roles import AutoApprove, PayeeRole, PayerChoice, PayerRole
from p2ppay.roles.radio import pay_on_virtual_radio
from p2ppay.store import OutboxStatus, SessionStatus
from tests.cli_world import cli
from tests.world import make_homes, now_s, spent

pytestmark = pytest.mark.anyio


async def test_a_payment_the_payee_refused_ends_refused_with_the_money_as_specified(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path)
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payee_wallet.store.trust.replace_revocations(
            [payer_wallet.identity.public_key], version=1, now=now_s()
        )
        payer = PayerRole(wallet=payer_wallet, approver=AutoApprove(limit=50_00, currency="EUR"))
        payee = PayeeRole(wallet=payee_wallet, choice=PayerChoice(listen=0.2, within=10))
        invoice = payee.new_invoice(amount=4_00, currency="EUR", memo="bread")
        with anyio.fail_after(30):
            payer_out, payee_out = await pay_on_virtual_radio(payer, payee, invoice)
        invoice_id = invoice.doc.id

        assert (payer_out.status, payer_out.error) == ("refused", "ACCEPT_PAYER_REVOKED")
        assert (payee_out.status, payee_out.error) == ("failed", "ACCEPT_PAYER_REVOKED")
        (session,) = payer_wallet.store.sessions.for_invoice(invoice_id)
        assert session.state is SessionStatus.REFUSED
        assert session.detail == "refused by the payee: ACCEPT_PAYER_REVOKED"
        assert payer_wallet.store.sessions.resumable() == []
        (item,) = payer_wallet.store.outbox.items()
        assert item.status is OutboxStatus.REJECTED
        assert item.detail == "refused by the payee: ACCEPT_PAYER_REVOKED"
        assert len(payer_wallet.store.aborts.pending()) == 1  # the evidence, for the ledger
        # The counter is used and the amount spent: the next payment chains on from it.
        allowance = payer_wallet.store.allowances.payer_position().allowance
        assert allowance is not None and allowance.last_counter == 1
        assert spent(payer_wallet) == 4_00
        # The payee kept nothing of it.
        assert payee_wallet.store.payments.payment(invoice_id) is None

    payer_home = str(homes.payer.root)
    shown = json.loads(cli("--home", payer_home, "show", invoice_id.hex(), "--json").stdout)
    assert (shown["status"], shown["error"]) == ("refused", "ACCEPT_PAYER_REVOKED")
    history = json.loads(cli("--home", payer_home, "history", "--json").stdout)
    (entry,) = history["entries"]
    assert (entry["status"], entry["settlement"]) == ("refused", "rejected")
    balance = json.loads(cli("--home", payer_home, "balance", "--json").stdout)
    eur = balance["currencies"]["EUR"]
    assert (eur["spent"], eur["left"], eur["pending_out"]) == ("4.00", "46.00", "0.00")
    text = cli("--home", payer_home, "show", invoice_id.hex()).stdout
    assert "status: refused" in text and "ACCEPT_PAYER_REVOKED" in text

    resumed = cli("--home", payer_home, "resume", invoice_id.hex(), "--json", check=False)
    assert resumed.returncode == 1
    assert json.loads(resumed.stdout)["error"] == "PAYMENT_REFUSED"
