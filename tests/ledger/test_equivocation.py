"""A payee that tells the payer "rejected" and the ledger "accepted" is caught, and the payer
learns the ledger's final word (a later ``settled`` wins over its local ``rejected``)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from p2ppay.ledger import running_ledger
from p2ppay.ledger.settlement import Equivocation
from p2ppay.store import OutboxStatus
from p2ppay.store.documents import receipt_record
from p2ppay.sync import sync_outbox
from protocol.builders import make_receipt
from protocol.bundle import decode_bundle, encode_bundle
from protocol.documents import Invoice, Payment, Verdict
from protocol.errors import ErrorCode
from protocol.verify import open_as
from tests.ledger.test_cheating import backed, client
from tests.ledger.world import fund, new_party, now_s, pay_offline, trust_ledger

pytestmark = pytest.mark.anyio


async def test_a_payee_signing_both_verdicts_is_flagged_and_settled_wins(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=20_00, allowance=20_00)
        await trust_ledger(ledger, payee)
        accepted_bundle = pay_offline(payer, payee, 5_00, receipt_lost=True)
        invoice_raw, payment_raw, _ = decode_bundle(accepted_bundle)
        invoice = open_as(invoice_raw, Invoice)
        payment = open_as(payment_raw, Payment)
        # The cheating payee hands the payer a refusal for the payment it accepted.
        refusal = make_receipt(
            payee.key,
            payment_hash=payment.hash,
            verdict=Verdict.REJECTED,
            now=now_s(),
            code=ErrorCode.ACCEPT_AMOUNT_MISMATCH,
        )
        with payer.open() as wallet:
            wallet.store.payments.persist_receipt(
                receipt_record(refusal, invoice_id=invoice.doc.id), now=now_s()
            )
            async with payer.client(ledger) as c:
                report = await sync_outbox(wallet.store, c, now=now_s)
            (item,) = wallet.store.outbox.items()
        assert report.rejected == 1
        assert (item.status, item.detail) == (OutboxStatus.REJECTED, "LEDGER_RECEIPT_REJECTED")

        # The payee uploads "accepted": it settles, and the ledger shows the two receipts.
        async with client(ledger, payee.key) as c:
            (result,) = (await c.sync([base64.b64encode(accepted_bundle).decode()], [])).results
        assert result.status == "settled"
        assert result.equivocation is not None
        proof = Equivocation(
            accepted=base64.b64decode(result.equivocation.accepted),
            rejected=base64.b64decode(result.equivocation.rejected),
        )
        assert proof.verify() == payee.public
        async with client(ledger, payer.key) as c:
            (published,) = (await c.proofs()).equivocations
        assert (published.accepted, published.rejected) == (
            result.equivocation.accepted,
            result.equivocation.rejected,
        )

        # The payer's next sync asks again: the ledger's settled wins over the local refusal.
        with payer.open() as wallet:
            async with payer.client(ledger) as c:
                report = await sync_outbox(wallet.store, c, now=now_s)
            (item,) = wallet.store.outbox.items()
        assert (report.updated, item.status) == (1, OutboxStatus.SETTLED)
        # Uploading the refusal again changes nothing (its refusal is remembered).
        again = encode_bundle(invoice_raw, payment_raw, refusal.raw)
        async with client(ledger, payer.key) as c:
            (repeat,) = (await c.sync([base64.b64encode(again).decode()], [])).results
        assert (repeat.status, repeat.error) == ("rejected", "LEDGER_RECEIPT_REJECTED")
        await backed(ledger)


def test_an_equivocation_of_two_payees_or_payments_proves_nothing() -> None:
    from nacl.signing import SigningKey

    a, b = SigningKey.generate(), SigningKey.generate()
    yes = make_receipt(a, payment_hash=b"h" * 32, verdict=Verdict.ACCEPTED, now=1)
    no_other_payee = make_receipt(
        b, payment_hash=b"h" * 32, verdict=Verdict.REJECTED, now=1, code=ErrorCode.DOC_EXPIRED
    )
    no_other_payment = make_receipt(
        a, payment_hash=b"i" * 32, verdict=Verdict.REJECTED, now=1, code=ErrorCode.DOC_EXPIRED
    )
    for no in (no_other_payee, no_other_payment):
        with pytest.raises(Exception) as refused:
            Equivocation(accepted=yes.raw, rejected=no.raw).verify()
        assert getattr(refused.value, "code", None) is ErrorCode.FRAUD_PROOF_INVALID


async def test_a_payee_that_aborted_a_payment_it_accepted_is_flagged(
    db_url: str, tmp_path: Path
) -> None:
    from protocol.builders import make_abort

    async with running_ledger(db_url=db_url) as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=20_00, allowance=20_00)
        await trust_ledger(ledger, payee)
        bundle = pay_offline(payer, payee, 5_00, receipt_lost=True)
        invoice_raw, payment_raw, _ = decode_bundle(bundle)
        invoice, payment = open_as(invoice_raw, Invoice), open_as(payment_raw, Payment)
        # The payee tells the payer the session was aborted, naming the payment...
        abort = make_abort(
            payee.key,
            code=ErrorCode.SESSION_DECLINED,
            reason="declined",
            now=now_s(),
            invoice_hash=invoice.hash,
            payment_hash=payment.hash,
        )
        b64 = base64.b64encode
        async with client(ledger, payer.key) as c:
            answer = await c.sync([], [], [b64(abort.raw).decode(), b64(b"\x83junk").decode()])
        assert [(a.status, a.equivocation) for a in answer.aborts] == [
            ("kept", None),
            ("rejected", None),
        ]
        assert (answer.aborts[1].error, answer.aborts[1].code) == ("CBOR_MALFORMED", 100)
        # ... and settles it as accepted: the abort and the receipt contradict each other.
        async with client(ledger, payee.key) as c:
            (result,) = (await c.sync([b64(bundle).decode()], [])).results
        assert result.status == "settled" and result.equivocation is not None
        found = Equivocation(
            accepted=base64.b64decode(result.equivocation.accepted),
            rejected=base64.b64decode(result.equivocation.rejected),
        )
        assert found.verify() == payee.public and found.rejected == abort.raw
        # Shown again afterwards, the abort is flagged at once; both are published.
        async with client(ledger, payer.key) as c:
            (again,) = (await c.sync([], [], [b64(abort.raw).decode()])).aborts
            published = (await c.proofs()).equivocations
        assert again.equivocation is not None
        assert [base64.b64decode(e.rejected) for e in published] == [abort.raw]
        await backed(ledger)
