"""Convenient constructors: build, check and sign each document kind in one call.

Invariants:
- Every builder returns a :class:`~protocol.verify.SignedDocument` produced by
  :func:`protocol.verify.sign`, so it passed the receiver's rules before it was signed; a
  bad argument raises LocalProtocolError with the code a receiver would have raised.
- The signer field (payee, payer, issuer, sender) is always the signing key's public key.
- Times are passed in (Unix seconds). Randomness (invoice id and nonce) comes from the OS
  unless given, so vectors and tests can be deterministic.
"""

from __future__ import annotations

import os

from nacl.signing import SigningKey

from protocol.chain import ChainHead
from protocol.documents import (
    ID_SIZE,
    NONCE_SIZE,
    Abort,
    Allowance,
    Invoice,
    Payment,
    Receipt,
    Verdict,
)
from protocol.errors import ErrorCode, LocalProtocolError
from protocol.keys import public_key
from protocol.verify import SignedDocument, sign

__all__ = ["make_abort", "make_allowance", "make_invoice", "make_payment", "make_receipt"]

DEFAULT_INVOICE_TTL = 300
"""Seconds an invoice stays payable unless the caller says otherwise."""


def make_invoice(
    payee_key: SigningKey,
    *,
    amount: int,
    currency: str,
    now: int,
    memo: str = "",
    ttl: int = DEFAULT_INVOICE_TTL,
    issuers: tuple[bytes, ...] | None = None,
    invoice_id: bytes | None = None,
    nonce: bytes | None = None,
    label: str | None = None,
) -> SignedDocument[Invoice]:
    """An invoice for ``amount`` minor units, created ``now``, payable for ``ttl`` seconds;
    ``label``: the name the payee shows payers (None: the field is absent)."""
    doc = Invoice(
        id=os.urandom(ID_SIZE) if invoice_id is None else invoice_id,
        payee=public_key(payee_key),
        amount=amount,
        currency=currency,
        memo=memo,
        created=now,
        expires=now + ttl,
        nonce=os.urandom(NONCE_SIZE) if nonce is None else nonce,
        issuers=issuers,
        label=label,
    )
    return sign(payee_key, doc)


def make_allowance(
    issuer_key: SigningKey,
    *,
    wallet: bytes,
    currency: str,
    limit: int,
    not_before: int,
    not_after: int,
    serial: int,
) -> SignedDocument[Allowance]:
    """An allowance letting ``wallet`` spend up to ``limit`` offline in [not_before, not_after)."""
    doc = Allowance(
        issuer=public_key(issuer_key),
        wallet=wallet,
        currency=currency,
        limit=limit,
        not_before=not_before,
        not_after=not_after,
        serial=serial,
    )
    return sign(issuer_key, doc)


def make_payment(
    payer_key: SigningKey,
    *,
    invoice: SignedDocument[Invoice],
    allowance: SignedDocument[Allowance],
    head: ChainHead | None,
    label: str | None = None,
) -> SignedDocument[Payment]:
    """Pay ``invoice`` as the next link after ``head`` (None: the allowance's first payment);
    ``label``: the name the payer shows the payee it pays (None: the field is absent).

    The caller must persist the returned payment (and its head) before sending it.
    """
    if head is not None and (
        head.key.issuer != allowance.doc.issuer or head.key.serial != allowance.doc.serial
    ):
        raise LocalProtocolError(ErrorCode.CHAIN_OTHER_ALLOWANCE, "head of another allowance")
    amount = invoice.doc.amount
    doc = Payment(
        invoice=invoice.hash,
        payer=public_key(payer_key),
        amount=amount,
        currency=invoice.doc.currency,
        counter=1 if head is None else head.counter + 1,
        prev=None if head is None else head.hash,
        spent=amount if head is None else head.spent + amount,
        allowance=allowance.raw,
        label=label,
    )
    return sign(payer_key, doc, allowance=allowance)


def make_receipt(
    payee_key: SigningKey,
    *,
    payment_hash: bytes,
    verdict: Verdict,
    now: int,
    code: ErrorCode | None = None,
) -> SignedDocument[Receipt]:
    """A receipt for the payment with ``payment_hash``; ``code`` is required iff rejected."""
    doc = Receipt(
        payment=payment_hash,
        payee=public_key(payee_key),
        verdict=verdict,
        time=now,
        code=None if code is None else int(code),
    )
    return sign(payee_key, doc)


def make_abort(
    sender_key: SigningKey,
    *,
    code: ErrorCode,
    reason: str,
    now: int,
    invoice_hash: bytes | None = None,
    payment_hash: bytes | None = None,
) -> SignedDocument[Abort]:
    """A signed abort carrying ``code`` and a short human-readable ``reason``.

    ``invoice_hash`` (once the session has an invoice) and ``payment_hash`` (once it has a
    payment) bind the abort to its session so it cannot be replayed against another one.
    """
    doc = Abort(
        sender=public_key(sender_key),
        code=int(code),
        reason=reason,
        time=now,
        invoice=invoice_hash,
        payment=payment_hash,
    )
    return sign(sender_key, doc)
