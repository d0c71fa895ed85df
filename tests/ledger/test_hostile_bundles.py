"""Hostile values never poison settlement: each bundle of a batch is judged on its own.

A cheater signs (with its real key) payments whose integers no database column holds; the
ledger refuses each with its own ``DOC_FIELD_VALUE`` and settles the rest of the batch (never
an HTTP 500). A wallet whose outbox holds a bundle the ledger cannot take sets it aside and
settles the rest.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from p2ppay.ledger import running_ledger
from p2ppay.store import OutboxStatus
from p2ppay.sync import LedgerClient, sync_outbox
from protocol import cbor
from protocol.builders import make_invoice, make_receipt
from protocol.bundle import encode_bundle
from protocol.cose import Kind, sign1
from protocol.documents import Allowance, Payment, Verdict, to_payload
from protocol.keys import document_hash, public_key
from protocol.verify import SignedDocument
from tests.ledger.cheater import b64, signed_payment
from tests.ledger.test_cheating import backed, cheater_with_allowance, client
from tests.ledger.world import FAST_RETRY, fund, new_party, now_s, pay_offline, trust_ledger

pytestmark = pytest.mark.anyio


def hostile_bundle(
    payer: SigningKey, allowance: SignedDocument[Allowance], payee: SigningKey, counter: int
) -> bytes:
    """A payment at ``counter`` (beyond what the model allows), signed with the real key."""
    invoice = make_invoice(payee, amount=1_00, currency="EUR", now=now_s())
    doc = Payment.model_construct(
        invoice=invoice.hash,
        payer=public_key(payer),
        amount=1_00,
        currency="EUR",
        counter=counter,
        prev=b"p" * 32,
        spent=1_00,
        allowance=allowance.raw,
    )
    raw = sign1(payer, Kind.PAYMENT, cbor.encode(to_payload(doc)))
    receipt = make_receipt(
        payee, payment_hash=document_hash(raw), verdict=Verdict.ACCEPTED, now=now_s()
    )
    return encode_bundle(invoice.raw, raw, receipt.raw)


@pytest.mark.parametrize("counter", [2**63, 2**64 - 1])
async def test_a_counter_no_column_holds_is_refused_alone_and_the_batch_settles(
    db_url: str, counter: int
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        cheater, payee = SigningKey.generate(), SigningKey.generate()
        allowance = await cheater_with_allowance(ledger, cheater, 10_00)
        good = [
            signed_payment(
                cheater,
                allowance,
                payee=payee,
                amount=1_00,
                counter=k,
                spent=k * 1_00,
                prev=prev,
                now=now_s(),
            )
            for k, prev in ((1, None),)
        ]
        second = signed_payment(
            cheater,
            allowance,
            payee=payee,
            amount=1_00,
            counter=2,
            spent=2_00,
            prev=good[0][1].hash,
            now=now_s(),
        )
        batch = [good[0][0], hostile_bundle(cheater, allowance, payee, counter), second[0]]
        async with client(ledger, payee) as c:
            await c.register()
            answer = await c.sync([b64(b) for b in batch], [])
        assert [(r.status, r.error) for r in answer.results] == [
            ("settled", None),
            ("rejected", "DOC_FIELD_VALUE"),
            ("settled", None),
        ]
        await backed(ledger)


class _Refusing(httpx.AsyncBaseTransport):
    """The real HTTP transport, except that a sync carrying ``poison`` gets ``status``."""

    def __init__(self, poison: str, status: int) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self._poison = poison.encode()
        self._status = status

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if self._poison in body:
            code = "LEDGER_BAD_REQUEST" if self._status < 500 else "LEDGER_STORAGE"
            return httpx.Response(
                self._status, json={"error": code, "code": 2000, "message": "cannot take it"}
            )
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


@pytest.mark.parametrize("status", [400, 500])
async def test_the_outbox_sets_aside_a_bundle_the_ledger_cannot_take(
    tmp_path: Path, status: int
) -> None:
    async with running_ledger() as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=20_00, allowance=20_00)
        await trust_ledger(ledger, payee)
        bundles = [pay_offline(payer, payee, 1_00) for _ in range(5)]
        poison = base64.b64encode(bundles[2]).decode()
        transport = _Refusing(poison, status)
        async with LedgerClient(ledger.url, payee.key, transport=transport, retry=FAST_RETRY) as c:
            with payee.open() as wallet:
                report = await sync_outbox(wallet.store, c, now=now_s)
                statuses = [i.status for i in wallet.store.outbox.items()]
        assert (report.settled, report.set_aside) == (4, 1)
        aside = OutboxStatus.REJECTED if status == 400 else OutboxStatus.PENDING
        assert sorted(s.value for s in statuses) == sorted(
            [OutboxStatus.SETTLED.value] * 4 + [aside.value]
        )
        await backed(ledger)
