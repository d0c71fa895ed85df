"""A cheating wallet for the attack tests: it holds its own real keys and signs anything.

The cheater's payments carry any counter, ``prev``, ``spent`` and amount it likes, to any
payee key (itself, sybil wallets it runs, honest wallets). Signatures are real, so every
document passes the signature checks; only the money rules can stop it.
"""

from __future__ import annotations

import base64
import os

from nacl.signing import SigningKey

from protocol.builders import make_invoice, make_receipt
from protocol.bundle import encode_bundle
from protocol.documents import Allowance, Payment, Verdict
from protocol.keys import public_key
from protocol.verify import SignedDocument, sign


def signed_payment(
    payer: SigningKey,
    allowance: SignedDocument[Allowance],
    *,
    payee: SigningKey,
    amount: int,
    counter: int,
    spent: int,
    prev: bytes | None = None,
    now: int,
) -> tuple[bytes, SignedDocument[Payment]]:
    """A bundle (invoice by ``payee``, the cheater's payment, an accepted receipt).

    ``prev`` None at a counter above 1 invents a random one.
    """
    invoice = make_invoice(payee, amount=amount, currency=allowance.doc.currency, now=now)
    if counter > 1 and prev is None:
        prev = os.urandom(32)
    doc = Payment(
        invoice=invoice.hash,
        payer=public_key(payer),
        amount=amount,
        currency=allowance.doc.currency,
        counter=counter,
        prev=prev if counter > 1 else None,
        spent=spent,
        allowance=allowance.raw,
    )
    payment = sign(payer, doc, allowance=allowance)
    receipt = make_receipt(payee, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=now)
    return encode_bundle(invoice.raw, payment.raw, receipt.raw), payment


def b64(bundle: bytes) -> str:
    return base64.b64encode(bundle).decode("ascii")
