"""Bundles: the three documents of one payment, re-checkable offline by anyone."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.builders import make_receipt
from protocol.bundle import decode_bundle, encode_bundle, verify_bundle
from protocol.documents import Verdict
from protocol.keys import public_key, signing_key_from_seed
from tests.protocol.docworld import NOW, World, seed


def _bundle(world: World) -> bytes:
    invoice = world.invoice()
    payment = world.payment(invoice=invoice)
    receipt = world.receipt(payment)
    return encode_bundle(invoice.raw, payment.raw, receipt.raw)


def test_a_genuine_bundle_verifies_and_keeps_the_exact_document_bytes() -> None:
    world = World()
    data = _bundle(world)
    bundle = verify_bundle(data, trusted_issuers=world.trusted)
    assert bundle.raw == data
    assert bundle.payment.doc.invoice == bundle.invoice.hash
    assert bundle.receipt.doc.payment == bundle.payment.hash
    assert bundle.head.counter == 1


def test_an_untrusted_issuer_is_refused_when_trust_is_given() -> None:
    world = World()
    stranger = frozenset({public_key(signing_key_from_seed(seed("stranger")))})
    with pytest.raises(RemoteProtocolError) as info:
        verify_bundle(_bundle(world), trusted_issuers=stranger)
    assert info.value.code is ErrorCode.DOC_UNTRUSTED_ISSUER


def test_a_receipt_for_another_payment_is_refused() -> None:
    world = World()
    invoice = world.invoice()
    payment = world.payment(invoice=invoice)
    other = world.payment(invoice=world.invoice(n=1))
    data = encode_bundle(invoice.raw, payment.raw, world.receipt(other).raw)
    with pytest.raises(RemoteProtocolError) as info:
        verify_bundle(data)
    assert info.value.code is ErrorCode.BUNDLE_RECEIPT_MISMATCH


def test_a_receipt_signed_by_someone_other_than_the_payee_is_refused() -> None:
    world = World()
    invoice = world.invoice()
    payment = world.payment(invoice=invoice)
    forger = signing_key_from_seed(seed("forger"))
    receipt = make_receipt(forger, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=NOW)
    with pytest.raises(RemoteProtocolError) as info:
        verify_bundle(encode_bundle(invoice.raw, payment.raw, receipt.raw))
    assert info.value.code is ErrorCode.BUNDLE_RECEIPT_SIGNER


def test_a_payment_of_another_invoice_is_refused() -> None:
    world = World()
    invoice = world.invoice()
    payment = world.payment(invoice=world.invoice(n=2))
    data = encode_bundle(invoice.raw, payment.raw, world.receipt(payment).raw)
    with pytest.raises(RemoteProtocolError) as info:
        verify_bundle(data)
    assert info.value.code is ErrorCode.ACCEPT_INVOICE_MISMATCH


def test_documents_in_the_wrong_slots_are_refused() -> None:
    world = World()
    invoice = world.invoice()
    payment = world.payment(invoice=invoice)
    receipt = world.receipt(payment)
    with pytest.raises(RemoteProtocolError) as info:
        verify_bundle(encode_bundle(payment.raw, invoice.raw, receipt.raw))
    assert info.value.code is ErrorCode.COSE_WRONG_KIND


@pytest.mark.parametrize(
    "data",
    [
        b"",
        cbor2.dumps([b"a", b"b"]),
        cbor2.dumps([b"a", b"b", "c"]),
        cbor2.dumps({1: b"a"}),
        b"\x9f\x41a\x41b\x41c\xff",  # indefinite-length array
        b"\x98\x03\x41a\x41b\x41c",  # non-shortest array length
    ],
)
def test_malformed_bundles_are_refused(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_bundle(data)
    assert info.value.code is ErrorCode.BUNDLE_MALFORMED


_BUNDLE = _bundle(World())


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_changed_byte_makes_the_bundle_fail_with_a_protocol_error(
    data: st.DataObject,
) -> None:
    original = bytearray(_BUNDLE)
    position = data.draw(st.integers(0, len(original) - 1))
    original[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ProtocolError):
        verify_bundle(bytes(original))
