"""Bundle verification for settlement: the cache of passes, and refusals checked again."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from p2ppay.ledger.settlement import Checked, Outcome
from p2ppay.ledger.verifier import VerifiedCache
from protocol.builders import make_allowance, make_invoice, make_payment, make_receipt
from protocol.bundle import encode_bundle
from protocol.documents import Verdict
from protocol.verify import MAX_CLOCK_SKEW

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000
ISSUER, PAYER, PAYEE = (SigningKey(bytes([n]) * 32) for n in (7, 8, 9))


def bundle(receipt_time: int) -> bytes:
    allowance = make_allowance(
        ISSUER,
        wallet=bytes(PAYER.verify_key),
        currency="EUR",
        limit=100_00,
        not_before=NOW - 60,
        not_after=NOW + 86400,
        serial=1,
    )
    invoice = make_invoice(PAYEE, amount=1_00, currency="EUR", now=receipt_time - 10)
    payment = make_payment(PAYER, invoice=invoice, allowance=allowance, head=None)
    receipt = make_receipt(
        PAYEE, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=receipt_time
    )
    return encode_bundle(invoice.raw, payment.raw, receipt.raw)


async def test_a_bundle_that_passed_passes_again_with_the_same_answer() -> None:
    cache = VerifiedCache(size=8)
    issuer = bytes(ISSUER.verify_key)
    raw = bundle(NOW)
    first = await cache.check([raw], issuer=issuer, now=NOW, workers=None)
    again = await cache.check([raw, raw], issuer=issuer, now=NOW + 10, workers=None)
    assert isinstance(first[0], Checked)
    assert again == [first[0], first[0]]


async def test_a_refusal_is_not_remembered_and_may_pass_later() -> None:
    cache = VerifiedCache(size=8)
    issuer = bytes(ISSUER.verify_key)
    future = bundle(NOW + MAX_CLOCK_SKEW + 100)
    (early,) = await cache.check([future], issuer=issuer, now=NOW, workers=None)
    assert isinstance(early, Outcome) and early.error == "DOC_NOT_YET_VALID"
    (later,) = await cache.check([future], issuer=issuer, now=NOW + 200, workers=None)
    assert isinstance(later, Checked)


async def test_a_pass_for_one_issuer_is_not_a_pass_for_another() -> None:
    cache = VerifiedCache(size=8)
    raw = bundle(NOW)
    await cache.check([raw], issuer=bytes(ISSUER.verify_key), now=NOW, workers=None)
    (other,) = await cache.check([raw], issuer=bytes(PAYEE.verify_key), now=NOW, workers=None)
    assert isinstance(other, Outcome) and other.error == "DOC_UNTRUSTED_ISSUER"
