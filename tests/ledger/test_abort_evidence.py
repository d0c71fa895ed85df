"""The payer keeps the payee's signed Abort of a payment and shows it to the ledger.

End to end: a real payment session over Bumble's virtual radio in which the payee aborts
after the payment reached it (here: over its offline limit), then the payee, running
modified software, settles that very payment as accepted with its own key. The payer's
next sync uploads the Abort it kept; the ledger flags the payee's two contradicting
statements, and the payer learns the payment settled.
"""

from __future__ import annotations

import base64
from pathlib import Path
from types import MappingProxyType

import anyio
import pytest

from p2ppay.ledger import running_ledger
from p2ppay.roles import AutoApprove, PayeeRole, PayerChoice, PayerRole
from p2ppay.roles.radio import pay_on_virtual_radio
from p2ppay.store import OutboxStatus
from p2ppay.sync import sync_outbox
from protocol.builders import make_receipt
from protocol.bundle import encode_bundle
from protocol.documents import Abort, Verdict
from protocol.risk import RiskLimits, RiskPolicy
from protocol.verify import open_as
from tests.ledger.test_cheating import backed, client
from tests.ledger.world import fund, new_party, now_s, trust_ledger

pytestmark = pytest.mark.anyio

NOTHING_OFFLINE = RiskPolicy(
    limits=MappingProxyType({"EUR": RiskLimits(per_payment=1, per_payer_day=1, stale_list=1)})
)


async def test_a_payee_that_aborts_then_settles_a_payment_is_caught_by_the_payers_sync(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=20_00, allowance=20_00)
        await trust_ledger(ledger, payee)
        with payer.open() as payer_wallet, payee.open() as payee_wallet:
            paying = PayerRole(
                wallet=payer_wallet, approver=AutoApprove(limit=10_00, currency="EUR")
            )
            asking = PayeeRole(
                wallet=payee_wallet,
                choice=PayerChoice(listen=0.2, within=10),
                attempts=1,
                risk=NOTHING_OFFLINE,
            )
            # Invoiced under the default limits, then collected under limits it breaks.
            invoice = PayeeRole(wallet=payee_wallet).new_invoice(amount=5_00, currency="EUR")
            with anyio.fail_after(30):
                payer_out, payee_out = await pay_on_virtual_radio(paying, asking, invoice)
            assert payer_out.error == payee_out.error == "RISK_OVER_PAYMENT_LIMIT"
            (kept,) = payer_wallet.store.aborts.pending()
            abort = open_as(kept, Abort).doc
            payment = payer_wallet.store.payments.payment(invoice.doc.id)
            assert payment is not None and abort.payment == payment.payment_hash
            # Synced as refused (no receipt will come), not left pending.
            (refused,) = payer_wallet.store.outbox.items()
            assert refused.status is OutboxStatus.REJECTED
            assert refused.detail == "refused by the payee: RISK_OVER_PAYMENT_LIMIT"
            assert payer_out.status == "refused"  # nothing to resume: no receipt will come

        # The payee lied: it settles the payment it aborted, signing "accepted" itself.
        accepted = make_receipt(
            payee.key, payment_hash=payment.payment_hash, verdict=Verdict.ACCEPTED, now=now_s()
        )
        bundle = encode_bundle(invoice.raw, payment.signed, accepted.raw)
        async with client(ledger, payee.key) as c:
            (settled,) = (await c.sync([base64.b64encode(bundle).decode()], [])).results
        assert settled.status == "settled"

        with payer.open() as payer_wallet:
            async with payer.client(ledger) as c:
                report = await sync_outbox(payer_wallet.store, c, now=now_s)
            assert (report.aborts, report.equivocations) == (1, 1)
            assert payer_wallet.store.aborts.pending() == []  # shown once, not again
            (item,) = payer_wallet.store.outbox.items()
            assert item.status is OutboxStatus.SETTLED
            # The session keeps what happened in it; the ledger's word is the settlement.
            (session,) = payer_wallet.store.sessions.for_invoice(invoice.doc.id)
            assert session.state.value == "refused"
        async with client(ledger, payer.key) as c:
            (published,) = (await c.proofs()).equivocations
        assert base64.b64decode(published.rejected) == kept
        await backed(ledger)
