"""Every document we emit is valid under protocol/p2ppay.cddl, checked by pycddl (cddl-rs).

pycddl 0.6.4 mis-validates a ``.cbor`` control on an *array* element (it applies it to the
wrong index; our valid COSE_Sign1 envelopes fail with "array item at index 1 must be a
byte string"), while ``.cbor`` as a map value works. So the check is layered: the schema
text with every ``bstr .cbor RULE`` relaxed to ``bstr`` validates each layer (envelope,
protected header, payload, embedded allowance) against its own rule of the normative file.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pycddl
import pytest

from protocol import ErrorCode, cbor
from protocol.builders import make_abort, make_receipt
from protocol.chain import head_of
from protocol.cose import Kind, parse_sign1
from protocol.documents import Document, Payment, Verdict, to_payload
from protocol.keys import public_key
from protocol.trustlists import make_issuer_set, make_revocation_list
from protocol.verify import SignedDocument, open_document
from tests.protocol.docworld import NOW, World

CDDL = Path(__file__).resolve().parents[2] / "protocol" / "p2ppay.cddl"
W = World()

_RULE = {
    Kind.INVOICE: "invoice",
    Kind.PAYMENT: "payment",
    Kind.RECEIPT: "receipt",
    Kind.ALLOWANCE: "allowance",
    Kind.ABORT: "abort",
    Kind.ISSUER_SET: "issuer-set",
    Kind.REVOCATION_LIST: "revocation-list",
}


@cache
def _schema(root: str) -> pycddl.Schema:
    layered = re.sub(r"bstr \.cbor [\w-]+", "bstr", CDDL.read_text())
    return pycddl.Schema(f"root = {root}\n{layered}")


def _validate(raw: bytes) -> None:
    envelope = parse_sign1(raw)
    rule = _RULE[envelope.kind]
    _schema(f"{rule}-sign1").validate_cbor(raw)
    _schema(f"{rule}-header").validate_cbor(envelope.protected)
    _schema(rule).validate_cbor(envelope.payload)
    doc = open_document(raw, kind=envelope.kind).doc
    if isinstance(doc, Payment):
        _validate(doc.allowance)


def _all_documents() -> list[SignedDocument[Document]]:
    first = W.payment()
    second = W.payment(invoice=W.invoice(n=1), head=head_of(first))
    return [
        W.allowance(),
        W.invoice(),
        first,
        second,
        W.receipt(first),
        make_receipt(
            W.payee,
            payment_hash=first.hash,
            verdict=Verdict.REJECTED,
            now=NOW,
            code=ErrorCode.ACCEPT_PAYER_REVOKED,
        ),
        make_abort(W.payer, code=ErrorCode.SESSION_DECLINED, reason="declined", now=NOW),
        make_abort(
            W.payer,
            code=ErrorCode.SESSION_DECLINED,
            reason="declined",
            now=NOW,
            invoice_hash=W.invoice().hash,
            payment_hash=first.hash,
        ),
        make_issuer_set(W.issuer, issuers=[public_key(W.issuer), public_key(W.payee)], now=NOW),
        make_revocation_list(W.issuer, keys=[public_key(W.payer), public_key(W.payee)], now=NOW),
        make_revocation_list(W.issuer, keys=[], now=NOW),
    ]


def test_the_normative_schema_parses_as_a_whole() -> None:
    pycddl.Schema(CDDL.read_text())


@pytest.mark.parametrize("index", range(len(_all_documents())))
def test_every_emitted_document_is_valid_under_the_schema(index: int) -> None:
    _validate(_all_documents()[index].raw)


def test_schema_rejects_a_payload_with_a_missing_field() -> None:
    payload = to_payload(W.invoice().doc)
    del payload[8]
    with pytest.raises(pycddl.ValidationError):
        _schema("invoice").validate_cbor(cbor.encode(payload))


def test_schema_rejects_a_payload_with_a_mistyped_field() -> None:
    payload = to_payload(W.invoice().doc)
    payload[3] = "12.50"
    with pytest.raises(pycddl.ValidationError):
        _schema("invoice").validate_cbor(cbor.encode(payload))


def test_schema_rejects_a_short_public_key() -> None:
    payload = to_payload(W.allowance().doc)
    payload[2] = b"\x01" * 31
    with pytest.raises(pycddl.ValidationError):
        _schema("allowance").validate_cbor(cbor.encode(payload))


def test_schema_rejects_a_document_of_another_kind() -> None:
    with pytest.raises(pycddl.ValidationError):
        _schema("invoice-header").validate_cbor(parse_sign1(W.allowance().raw).protected)


def test_a_fraud_proof_wire_form_is_valid_under_the_cddl() -> None:
    from protocol.chain import FraudProof

    a = W.payment()
    b = W.payment(invoice=W.invoice(n=5))  # counter 1 again: a fork
    proof = FraudProof.of(a, b)
    _schema("fraud-proof").validate_cbor(proof.encode())
    for half in (proof.first, proof.second):
        _validate(half)


def test_an_exported_bundle_is_valid_under_the_cddl_and_anything_else_is_800() -> None:
    from protocol.builders import make_receipt
    from protocol.bundle import decode_bundle, encode_bundle
    from protocol.documents import Verdict
    from protocol.errors import ErrorCode, RemoteProtocolError

    payment = W.payment()
    receipt = make_receipt(W.payee, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=1)
    bundle = encode_bundle(W.invoice().raw, payment.raw, receipt.raw)
    _schema("bundle").validate_cbor(bundle)
    for half in decode_bundle(bundle):
        _validate(half)
    for bad in (bundle[:-1], b"\x82" + bundle[1:], b"\x80"):
        with pytest.raises(RemoteProtocolError) as err:
            decode_bundle(bad)
        assert err.value.code is ErrorCode.BUNDLE_MALFORMED


def test_integers_over_2_63_minus_1_are_outside_the_cddl() -> None:
    from protocol import cbor

    payload = to_payload(W.payment().doc)
    payload[5] = 2**63
    with pytest.raises(pycddl.ValidationError):
        _schema("payment").validate_cbor(cbor.encode(payload))
    payload[5] = 2**63 - 1
    payload[6] = b"p" * 32
    _schema("payment").validate_cbor(cbor.encode(payload))
