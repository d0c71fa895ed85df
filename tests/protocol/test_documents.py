"""Signing and verifying each document kind: what verify_document accepts and rejects."""

from __future__ import annotations

import pytest
from cbor2 import CBORTag

import protocol
from protocol import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError, cbor
from protocol.builders import make_abort, make_allowance, make_invoice, make_receipt
from protocol.cose import Kind, parse_sign1, sign1
from protocol.documents import (
    Abort,
    Allowance,
    Document,
    Invoice,
    Payment,
    Receipt,
    Verdict,
    to_payload,
)
from protocol.keys import document_hash, key_id, public_key
from protocol.verify import (
    MAX_CLOCK_SKEW,
    SignedDocument,
    open_as,
    open_document,
    sign,
    verify_as,
)
from tests.protocol.docworld import NOW, World, resign

W = World()


def _code(exc: pytest.ExceptionInfo[ProtocolError]) -> ErrorCode:
    return exc.value.code


def test_each_kind_round_trips_through_verify_document() -> None:
    payment = W.payment()
    docs: list[SignedDocument[Document]] = [
        W.allowance(),
        W.invoice(),
        payment,
        W.receipt(payment),
        make_abort(W.payer, code=ErrorCode.SESSION_DECLINED, reason="no", now=NOW),
    ]
    for signed in docs:
        assert (
            protocol.verify_document(signed.raw, now=NOW, trusted_issuers=W.trusted) == signed.doc
        )


def test_verify_document_is_exported_with_protocol_error() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.verify_document(b"\xff", now=NOW)


def test_document_hash_is_sha256_of_the_exact_bytes() -> None:
    invoice = W.invoice()
    assert invoice.hash == document_hash(invoice.raw)
    assert open_as(invoice.raw, Invoice).hash == invoice.hash


def test_kid_is_truncated_sha256_of_the_signer_key() -> None:
    invoice = W.invoice()
    assert parse_sign1(invoice.raw).kid == key_id(public_key(W.payee))
    assert len(key_id(public_key(W.payee))) == 16


def test_payment_carries_its_verified_allowance() -> None:
    allowance = W.allowance()
    payment = open_as(W.payment(allowance=allowance).raw, Payment)
    assert payment.allowance is not None
    assert payment.allowance.raw == allowance.raw


def test_flipped_signature_bit_is_bad_signature() -> None:
    raw = bytearray(W.invoice().raw)
    raw[-1] ^= 1
    with pytest.raises(RemoteProtocolError) as exc:
        protocol.verify_document(bytes(raw), now=NOW)
    assert _code(exc) is ErrorCode.COSE_BAD_SIGNATURE


def test_signature_by_another_key_than_named_is_bad_signature() -> None:
    good = parse_sign1(W.invoice().raw)
    signature = W.payer.sign(good.to_be_signed()).signature
    forged = cbor.encode(CBORTag(18, [good.protected, {4: good.kid}, good.payload, signature]))
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(forged)
    assert _code(exc) is ErrorCode.COSE_BAD_SIGNATURE


def test_kid_of_another_key_than_the_named_signer_is_rejected() -> None:
    forged = resign(W.payer, Kind.INVOICE, to_payload(W.invoice().doc))  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(forged)
    assert _code(exc) is ErrorCode.COSE_KID_MISMATCH


def test_signature_is_bound_to_the_kind_in_the_protected_header() -> None:
    invoice = W.invoice()
    envelope = parse_sign1(invoice.raw)
    receipt_header = parse_sign1(W.receipt(W.payment()).raw).protected
    relabelled = cbor.encode(
        CBORTag(18, [receipt_header, {4: envelope.kid}, envelope.payload, envelope.signature])
    )
    moved = parse_sign1(relabelled)
    assert moved.kind is Kind.RECEIPT
    with pytest.raises(RemoteProtocolError) as exc:
        moved.verify(public_key(W.payee))
    assert _code(exc) is ErrorCode.COSE_BAD_SIGNATURE


def test_wrong_kind_is_rejected_when_a_kind_is_required() -> None:
    with pytest.raises(RemoteProtocolError) as exc:
        verify_as(W.invoice().raw, Payment, now=NOW)
    assert _code(exc) is ErrorCode.COSE_WRONG_KIND


def test_expired_invoice_is_rejected_after_skew() -> None:
    invoice = W.invoice()
    protocol.verify_document(invoice.raw, now=invoice.doc.expires + MAX_CLOCK_SKEW - 1)
    with pytest.raises(RemoteProtocolError) as exc:
        protocol.verify_document(invoice.raw, now=invoice.doc.expires + MAX_CLOCK_SKEW)
    assert _code(exc) is ErrorCode.DOC_EXPIRED


def test_invoice_from_the_future_is_not_yet_valid() -> None:
    invoice = W.invoice()
    with pytest.raises(RemoteProtocolError) as exc:
        protocol.verify_document(invoice.raw, now=NOW - MAX_CLOCK_SKEW - 1)
    assert _code(exc) is ErrorCode.DOC_NOT_YET_VALID


def test_payment_outside_its_allowance_window_is_expired() -> None:
    payment = W.payment()
    assert payment.allowance is not None
    with pytest.raises(RemoteProtocolError) as exc:
        protocol.verify_document(payment.raw, now=payment.allowance.doc.not_after + 10**6)
    assert _code(exc) is ErrorCode.DOC_EXPIRED


def test_untrusted_issuer_is_rejected_only_when_issuers_are_given() -> None:
    payment = W.payment()
    protocol.verify_document(payment.raw, now=NOW)
    with pytest.raises(RemoteProtocolError) as exc:
        protocol.verify_document(payment.raw, now=NOW, trusted_issuers={b"\x00" * 32})
    assert _code(exc) is ErrorCode.DOC_UNTRUSTED_ISSUER


def test_signing_with_a_key_other_than_the_signer_field_is_refused() -> None:
    with pytest.raises(LocalProtocolError) as exc:
        sign(W.payer, W.invoice().doc)
    assert _code(exc) is ErrorCode.COSE_KID_MISMATCH


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"currency": "XXX"}, ErrorCode.MONEY_UNKNOWN_CURRENCY),
        ({"amount": 0}, ErrorCode.MONEY_NOT_POSITIVE),
        ({"amount": -5}, ErrorCode.MONEY_NOT_POSITIVE),
        ({"amount": 10**15 + 1}, ErrorCode.MONEY_OVER_MAXIMUM),
        ({"expires": NOW}, ErrorCode.DOC_BAD_TIME_WINDOW),
        ({"memo": "x" * 141}, ErrorCode.DOC_FIELD_VALUE),
        ({"issuers": ()}, ErrorCode.DOC_FIELD_VALUE),
        ({"issuers": (b"k" * 16, b"k" * 16)}, ErrorCode.DOC_FIELD_VALUE),
    ],
)
def test_invoice_rules_refuse_to_sign_and_reject_on_receipt(
    changes: dict[str, object], code: ErrorCode
) -> None:
    bad = W.invoice().doc.model_copy(update=changes)
    with pytest.raises(LocalProtocolError) as local:
        sign(W.payee, bad)
    assert _code(local) is code
    forged = resign(W.payee, Kind.INVOICE, to_payload(bad))  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError) as remote:
        open_document(forged)
    assert _code(remote) is code


def test_missing_field_is_reported_as_missing() -> None:
    payload = to_payload(W.invoice().doc)
    del payload[5]
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(resign(W.payee, Kind.INVOICE, payload))  # type: ignore[arg-type]
    assert _code(exc) is ErrorCode.DOC_MISSING_FIELD


def test_mistyped_field_is_reported_as_field_type() -> None:
    payload = to_payload(W.invoice().doc)
    payload[3] = "1250"
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(resign(W.payee, Kind.INVOICE, payload))  # type: ignore[arg-type]
    assert _code(exc) is ErrorCode.DOC_FIELD_TYPE


def test_bool_is_not_accepted_as_an_integer() -> None:
    payload = to_payload(W.invoice().doc)
    payload[6] = True
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(resign(W.payee, Kind.INVOICE, payload))  # type: ignore[arg-type]
    assert _code(exc) is ErrorCode.DOC_FIELD_TYPE


def test_null_optional_field_is_a_type_error_not_absence() -> None:
    payload = to_payload(W.invoice().doc)
    payload[9] = None
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(resign(W.payee, Kind.INVOICE, payload))  # type: ignore[arg-type]
    assert _code(exc) is ErrorCode.DOC_FIELD_TYPE


def test_unknown_field_is_rejected() -> None:
    payload = to_payload(W.invoice().doc)
    payload[42] = 1
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(resign(W.payee, Kind.INVOICE, payload))  # type: ignore[arg-type]
    assert _code(exc) is ErrorCode.DOC_UNKNOWN_FIELD


def test_payload_that_is_not_a_map_is_rejected() -> None:
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(sign1(W.payee, Kind.INVOICE, cbor.encode([1, 2])))
    assert _code(exc) is ErrorCode.DOC_NOT_A_MAP


def test_payment_by_a_key_other_than_the_allowance_wallet_is_rejected() -> None:
    doc = W.payment().doc.model_copy(update={"payer": public_key(W.payee)})
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(resign(W.payee, Kind.PAYMENT, to_payload(doc)))  # type: ignore[arg-type]
    assert _code(exc) is ErrorCode.PAYMENT_PAYER_NOT_WALLET


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"currency": "USD"}, ErrorCode.PAYMENT_CURRENCY_NOT_ALLOWANCE),
        ({"spent": 100_01}, ErrorCode.PAYMENT_OVER_LIMIT),
        ({"spent": 12_49}, ErrorCode.PAYMENT_CUMULATIVE_BELOW_AMOUNT),
        ({"prev": b"p" * 32}, ErrorCode.DOC_CHAIN_START),
        ({"counter": 2}, ErrorCode.DOC_CHAIN_START),
        ({"counter": 0}, ErrorCode.DOC_FIELD_VALUE),
        ({"counter": 2**63, "prev": b"p" * 32}, ErrorCode.DOC_FIELD_VALUE),
        ({"allowance": W.invoice().raw}, ErrorCode.COSE_WRONG_KIND),
    ],
)
def test_payment_rules_refuse_to_sign_and_reject_on_receipt(
    changes: dict[str, object], code: ErrorCode
) -> None:
    bad = W.payment().doc.model_copy(update=changes)
    with pytest.raises(LocalProtocolError) as local:
        sign(W.payer, bad)
    assert _code(local) is code
    forged = resign(W.payer, Kind.PAYMENT, to_payload(bad))  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError) as remote:
        open_document(forged)
    assert _code(remote) is code


def test_allowance_window_must_not_be_empty() -> None:
    with pytest.raises(LocalProtocolError) as exc:
        make_allowance(
            W.issuer,
            wallet=public_key(W.payer),
            currency="EUR",
            limit=1,
            not_before=NOW,
            not_after=NOW,
            serial=1,
        )
    assert _code(exc) is ErrorCode.DOC_BAD_TIME_WINDOW


def test_allowance_not_yet_valid_is_rejected() -> None:
    allowance = make_allowance(
        W.issuer,
        wallet=public_key(W.payer),
        currency="EUR",
        limit=1,
        not_before=NOW + 10_000,
        not_after=NOW + 20_000,
        serial=1,
    )
    with pytest.raises(RemoteProtocolError) as exc:
        verify_as(allowance.raw, Allowance, now=NOW)
    assert _code(exc) is ErrorCode.DOC_NOT_YET_VALID


def test_receipt_code_present_exactly_when_rejected() -> None:
    payment = W.payment()
    with pytest.raises(LocalProtocolError) as exc:
        make_receipt(W.payee, payment_hash=payment.hash, verdict=Verdict.REJECTED, now=NOW)
    assert _code(exc) is ErrorCode.DOC_FIELD_VALUE
    rejected = make_receipt(
        W.payee,
        payment_hash=payment.hash,
        verdict=Verdict.REJECTED,
        now=NOW,
        code=ErrorCode.ACCEPT_PAYER_REVOKED,
    )
    doc = verify_as(rejected.raw, Receipt, now=NOW).doc
    assert (doc.verdict, doc.code) == (Verdict.REJECTED, ErrorCode.ACCEPT_PAYER_REVOKED)


def test_unknown_verdict_is_a_value_error() -> None:
    payload = to_payload(W.receipt(W.payment()).doc)
    payload[3] = 9
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(resign(W.payee, Kind.RECEIPT, payload))  # type: ignore[arg-type]
    assert _code(exc) is ErrorCode.DOC_FIELD_VALUE


def test_abort_keeps_codes_this_build_does_not_know() -> None:
    doc = Abort(sender=public_key(W.payer), code=999, reason="future", time=NOW)
    opened = open_as(sign(W.payer, doc).raw, Abort)
    assert opened.doc.code == 999
    assert opened.doc.error_code is None


def test_abort_reason_is_bounded() -> None:
    with pytest.raises(LocalProtocolError) as exc:
        make_abort(W.payer, code=ErrorCode.SESSION_DECLINED, reason="x" * 129, now=NOW)
    assert _code(exc) is ErrorCode.DOC_FIELD_VALUE


def test_invoice_with_accepted_issuers_round_trips() -> None:
    issuers = (key_id(public_key(W.issuer)),)
    invoice = make_invoice(W.payee, amount=1, currency="JPY", now=NOW, issuers=issuers)
    assert open_as(invoice.raw, Invoice).doc.issuers == issuers


@pytest.mark.parametrize("memo", ["\ud800", "ok \udcff"])
def test_a_memo_with_a_lone_surrogate_is_a_typed_refusal_not_a_crash(memo: str) -> None:
    # Issue 11 item 3 (found while fuzzing): str.encode() raised UnicodeEncodeError out of
    # the rules check, so a memo from argv (surrogateescape) crashed `request`.
    bad = W.invoice().doc.model_copy(update={"memo": memo})
    with pytest.raises(LocalProtocolError) as exc:
        sign(W.payee, bad)
    assert _code(exc) is ErrorCode.DOC_FIELD_VALUE


BAD_LABELS = [
    pytest.param("", id="empty"),
    pytest.param("A" * 33, id="33-characters"),
    pytest.param("Ana\nPAID 0.01 EUR", id="newline"),
    pytest.param("Ana\x1b[2J", id="escape"),
    pytest.param("Ana\x85", id="c1-next-line"),
    pytest.param("\u202eanA", id="bidi-override"),
    pytest.param("A\u200bna", id="zero-width-space"),
    pytest.param("Ana\u2028", id="line-separator"),
    pytest.param(" Ana", id="leading-space"),
    pytest.param("Ana ", id="trailing-space"),
    pytest.param("Ana\ud800", id="lone-surrogate"),
]


@pytest.mark.parametrize("label", BAD_LABELS)
@pytest.mark.parametrize("kind", [Kind.INVOICE, Kind.PAYMENT])
def test_a_bad_label_is_refused_to_sign_and_rejected_on_receipt(kind: Kind, label: str) -> None:
    doc, key = (W.invoice().doc, W.payee) if kind is Kind.INVOICE else (W.payment().doc, W.payer)
    bad = doc.model_copy(update={"label": label})
    with pytest.raises(LocalProtocolError) as local:
        sign(key, bad)
    assert _code(local) is ErrorCode.DOC_FIELD_VALUE
    if "\ud800" not in label:  # a lone surrogate has no UTF-8 to send
        forged = resign(key, kind, to_payload(bad))  # type: ignore[arg-type]
        with pytest.raises(RemoteProtocolError) as remote:
            open_document(forged)
        assert _code(remote) is ErrorCode.DOC_FIELD_VALUE


@pytest.mark.parametrize("label", ["Ana", "Café Zoë", "A" * 32, "Bob's café · Lisboa", "李小龙"])
def test_a_label_travels_in_the_signed_invoice_and_payment(label: str) -> None:
    invoice = make_invoice(W.payee, amount=1_00, currency="EUR", now=NOW, label=label)
    assert open_as(invoice.raw, Invoice).doc.label == label
    assert to_payload(invoice.doc)[10] == label
    payment = W.payment().doc.model_copy(update={"label": label})
    assert open_as(sign(W.payer, payment).raw, Payment).doc.label == label


def test_without_a_label_the_field_is_absent_and_the_bytes_unchanged() -> None:
    invoice = W.invoice()
    assert invoice.doc.label is None and 10 not in to_payload(invoice.doc)
    payment = W.payment()
    assert payment.doc.label is None and 9 not in to_payload(payment.doc)
    unlabelled = make_invoice(
        W.payee,
        amount=12_50,
        currency="EUR",
        now=NOW,
        memo="coffee",
        invoice_id=bytes(16),
        nonce=bytes([0xA0]) * 16,
        label=None,
    )
    assert unlabelled.raw == W.invoice().raw
