"""Bundles: one payment's three signed documents, as exported, inspected and synced.

Wire form (CDDL)::

    bundle = [ invoice: bstr .cbor COSE_Sign1,
               payment: bstr .cbor COSE_Sign1,
               receipt: bstr .cbor COSE_Sign1 ]

Each document rides as a byte string holding its exact COSE_Sign1 bytes, so the hashes the
documents name are hashes of bytes present in the bundle, never of a re-encoding.

Invariants:
- :func:`verify_bundle` accepts a bundle only if the payee's offline acceptance rules
  (:func:`protocol.acceptance.check_payment`) held *at the receipt's time*: anyone holding
  the bundle can re-check, offline, exactly what the payee checked. The receipt must name
  this payment's hash and be signed by the invoice's payee.
- A bundle whose receipt says REJECTED is still a well-formed record (of a refusal); whether
  it moves money is the ledger's decision, never this module's.
- Pure: no clock, no disk. Trust is an input.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import cbor2

from protocol.acceptance import check_payment
from protocol.chain import ChainHead, head_of
from protocol.documents import Invoice, Payment, Receipt
from protocol.errors import ErrorCode, RemoteProtocolError
from protocol.verify import MAX_CLOCK_SKEW, SignedDocument, open_as

__all__ = ["MAX_BUNDLE_SIZE", "Bundle", "decode_bundle", "encode_bundle", "verify_bundle"]

MAX_BUNDLE_SIZE = 8192
"""Largest bundle accepted, in bytes (three documents of at most 2 KiB each, plus framing)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Bundle:
    """The three documents of one payment, each signature-checked."""

    invoice: SignedDocument[Invoice]
    payment: SignedDocument[Payment]
    receipt: SignedDocument[Receipt]

    @property
    def raw(self) -> bytes:
        """The bundle's wire form."""
        return encode_bundle(self.invoice.raw, self.payment.raw, self.receipt.raw)

    @property
    def head(self) -> ChainHead:
        """The payer's chain head right after this payment."""
        return head_of(self.payment)


def encode_bundle(invoice: bytes, payment: bytes, receipt: bytes) -> bytes:
    """The deterministic encoding of a bundle of these exact document bytes."""
    return bytes(cbor2.dumps([invoice, payment, receipt], canonical=True))


def decode_bundle(data: bytes) -> tuple[bytes, bytes, bytes]:
    """Split a bundle into its three document byte strings; BUNDLE_MALFORMED otherwise.

    The encoding must be the deterministic one, so a bundle has exactly one byte form.
    """
    if len(data) > MAX_BUNDLE_SIZE:
        raise RemoteProtocolError(ErrorCode.BUNDLE_MALFORMED, f"{len(data)} bytes")
    try:
        items = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise RemoteProtocolError(ErrorCode.BUNDLE_MALFORMED, "not CBOR") from exc
    if (
        not isinstance(items, list)
        or len(items) != 3
        or not all(type(item) is bytes for item in items)
    ):
        raise RemoteProtocolError(ErrorCode.BUNDLE_MALFORMED, "not an array of three bstr")
    invoice, payment, receipt = items
    if encode_bundle(invoice, payment, receipt) != data:
        raise RemoteProtocolError(ErrorCode.BUNDLE_MALFORMED, "not the deterministic encoding")
    return invoice, payment, receipt


def open_bundle(data: bytes) -> Bundle:
    """Decode a bundle and check each document's structure and signature (no time, no trust,
    no cross-document rule); see :func:`verify_bundle` for the whole check."""
    invoice, payment, receipt = decode_bundle(data)
    return Bundle(
        invoice=open_as(invoice, Invoice),
        payment=open_as(payment, Payment),
        receipt=open_as(receipt, Receipt),
    )


def verify_bundle(
    data: bytes,
    *,
    trusted_issuers: Collection[bytes] | None = None,
    skew: int = MAX_CLOCK_SKEW,
) -> Bundle:
    """Check a bundle as its payee did, at the receipt's time (module docstring).

    ``trusted_issuers`` (raw issuer keys) requires the allowance to come from one of them;
    None trusts the issuer the allowance names, which checks consistency, not authority.
    Raises RemoteProtocolError with the code of the first rule broken.
    """
    bundle = open_bundle(data)
    receipt = bundle.receipt.doc
    if receipt.payment != bundle.payment.hash:
        raise RemoteProtocolError(ErrorCode.BUNDLE_RECEIPT_MISMATCH)
    if receipt.payee != bundle.invoice.doc.payee:
        raise RemoteProtocolError(ErrorCode.BUNDLE_RECEIPT_SIGNER)
    allowance = bundle.payment.allowance
    assert allowance is not None  # open_as(Payment) always opens the embedded allowance
    issuers = (allowance.doc.issuer,) if trusted_issuers is None else trusted_issuers
    check_payment(
        bundle.payment,
        invoice=bundle.invoice,
        payee_key=bundle.invoice.doc.payee,
        trusted_issuers=issuers,
        now=receipt.time,
        skew=skew,
    )
    return bundle
