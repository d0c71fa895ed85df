"""The payee's offline acceptance: one test per rule, each breaking exactly that rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol import ErrorCode, RemoteProtocolError
from protocol.acceptance import AcceptedPayment, check_payment
from protocol.builders import make_allowance, make_invoice
from protocol.chain import ChainHead, head_of
from protocol.cose import Kind
from protocol.documents import Invoice, Payment, to_payload
from protocol.keys import key_id, public_key
from protocol.verify import MAX_CLOCK_SKEW, SignedDocument, open_as
from tests.protocol.docworld import NOW, World, resign

W = World()


def _accept(
    payment: bytes | SignedDocument[Payment],
    *,
    invoice: SignedDocument[Invoice] | None = None,
    payee_key: bytes | None = None,
    trusted: frozenset[bytes] | None = None,
    revoked: frozenset[bytes] = frozenset(),
    last_seen: ChainHead | None = None,
    now: int = NOW,
) -> AcceptedPayment:
    return check_payment(
        payment,
        invoice=invoice or W.invoice(),
        payee_key=payee_key or public_key(W.payee),
        trusted_issuers=W.trusted if trusted is None else trusted,
        revoked=revoked,
        last_seen=last_seen,
        now=now,
    )


def _rejects(code: ErrorCode, payment: bytes | SignedDocument[Payment], **kw: object) -> None:
    with pytest.raises(RemoteProtocolError) as exc:
        _accept(payment, **kw)  # type: ignore[arg-type]
    assert exc.value.code is code


def _second_payment() -> tuple[SignedDocument[Payment], SignedDocument[Payment]]:
    first = W.payment(invoice=W.invoice(n=1))
    second = W.payment(head=head_of(first))
    return first, second


def test_a_valid_first_payment_is_accepted() -> None:
    payment = W.payment()
    accepted = _accept(payment.raw)
    assert accepted.payment.hash == payment.hash
    assert accepted.head == head_of(payment)


def test_a_valid_next_payment_is_accepted_after_the_last_seen() -> None:
    first, second = _second_payment()
    assert _accept(second.raw, last_seen=head_of(first)).head.counter == 2


def test_an_opened_payment_is_accepted_without_reverifying() -> None:
    payment = open_as(W.payment().raw, Payment)
    assert _accept(payment).payment is payment


def test_payer_signature_must_verify() -> None:
    raw = bytearray(W.payment().raw)
    raw[-1] ^= 0x80
    _rejects(ErrorCode.COSE_BAD_SIGNATURE, bytes(raw))


def test_allowance_issuer_signature_must_verify() -> None:
    allowance = bytearray(W.allowance().raw)
    allowance[-1] ^= 0x80
    doc = W.payment().doc.model_copy(update={"allowance": bytes(allowance)})
    forged = resign(W.payer, Kind.PAYMENT, to_payload(doc))  # type: ignore[arg-type]
    _rejects(ErrorCode.COSE_BAD_SIGNATURE, forged)


def test_allowance_issuer_must_be_trusted() -> None:
    _rejects(ErrorCode.DOC_UNTRUSTED_ISSUER, W.payment().raw, trusted=frozenset({b"\x09" * 32}))


def test_allowance_issuer_must_be_trusted_for_an_opened_payment() -> None:
    payment = open_as(W.payment().raw, Payment)
    _rejects(ErrorCode.DOC_UNTRUSTED_ISSUER, payment, trusted=frozenset({b"\x09" * 32}))


def test_allowance_must_not_have_expired_beyond_the_skew() -> None:
    late = W.allowance().doc.not_after + MAX_CLOCK_SKEW
    invoice = make_invoice(W.payee, amount=12_50, currency="EUR", now=late - 10)
    payment = W.payment(invoice=invoice).raw
    _accept(payment, invoice=invoice, now=late - 1)
    _rejects(ErrorCode.DOC_EXPIRED, payment, invoice=invoice, now=late)


def test_allowance_must_have_started_within_the_skew() -> None:
    allowance = make_allowance(
        W.issuer,
        wallet=public_key(W.payer),
        currency="EUR",
        limit=100_00,
        not_before=NOW + MAX_CLOCK_SKEW + 1,
        not_after=NOW + 86400,
        serial=8,
    )
    _rejects(ErrorCode.DOC_NOT_YET_VALID, W.payment(allowance=allowance).raw)


def test_invoice_must_be_this_payees() -> None:
    _rejects(ErrorCode.ACCEPT_PAYEE_MISMATCH, W.payment().raw, payee_key=public_key(W.payer))


def test_invoice_must_not_have_expired_on_the_payees_clock() -> None:
    invoice = W.invoice()
    # the allowance is still valid then; only the invoice is too old
    _rejects(ErrorCode.DOC_EXPIRED, W.payment().raw, now=invoice.doc.expires)


def test_payment_must_name_the_invoice_hash() -> None:
    other = W.payment(invoice=W.invoice(n=2))
    _rejects(ErrorCode.ACCEPT_INVOICE_MISMATCH, other.raw)


def test_payment_amount_must_match_the_invoice() -> None:
    invoice = W.invoice()
    doc = W.payment(invoice=invoice).doc.model_copy(update={"amount": 12_49, "spent": 12_49})
    forged = resign(W.payer, Kind.PAYMENT, to_payload(doc))  # type: ignore[arg-type]
    _rejects(ErrorCode.ACCEPT_AMOUNT_MISMATCH, forged, invoice=invoice)


def test_payment_currency_must_match_the_invoice() -> None:
    # an invoice in USD, paid from an EUR allowance by a payment naming that invoice
    invoice = make_invoice(
        W.payee, amount=12_50, currency="USD", now=NOW, invoice_id=b"u" * 16, nonce=b"n" * 16
    )
    doc = W.payment().doc.model_copy(update={"invoice": invoice.hash})
    forged = resign(W.payer, Kind.PAYMENT, to_payload(doc))  # type: ignore[arg-type]
    _rejects(ErrorCode.ACCEPT_CURRENCY_MISMATCH, forged, invoice=invoice)


def test_allowance_issuer_must_be_one_the_invoice_accepts() -> None:
    invoice = make_invoice(W.payee, amount=12_50, currency="EUR", now=NOW, issuers=(b"\x07" * 16,))
    _rejects(ErrorCode.ACCEPT_ISSUER_NOT_ACCEPTED, W.payment(invoice=invoice).raw, invoice=invoice)


def test_an_issuer_the_invoice_lists_is_accepted() -> None:
    issuers = (key_id(public_key(W.issuer)),)
    invoice = make_invoice(W.payee, amount=12_50, currency="EUR", now=NOW, issuers=issuers)
    assert _accept(W.payment(invoice=invoice).raw, invoice=invoice).head.counter == 1


def test_payer_must_not_be_revoked() -> None:
    revoked = frozenset({public_key(W.payer)})
    _rejects(ErrorCode.ACCEPT_PAYER_REVOKED, W.payment().raw, revoked=revoked)


def test_cumulative_must_stay_within_the_allowance_limit() -> None:
    allowance = W.allowance(limit=12_49)
    doc = W.payment().doc.model_copy(update={"allowance": allowance.raw})
    forged = resign(W.payer, Kind.PAYMENT, to_payload(doc))  # type: ignore[arg-type]
    _rejects(ErrorCode.PAYMENT_OVER_LIMIT, forged)


def test_counter_must_be_above_the_last_seen() -> None:
    _, second = _second_payment()
    _rejects(ErrorCode.ACCEPT_COUNTER_NOT_INCREASING, second.raw, last_seen=head_of(second))


def test_prev_hash_must_continue_the_last_seen_payment() -> None:
    first, second = _second_payment()
    seen = replace(head_of(first), hash=b"\x00" * 32)
    _rejects(ErrorCode.ACCEPT_PREV_HASH_MISMATCH, second.raw, last_seen=seen)


def test_cumulative_must_grow_by_the_amount_after_the_last_seen() -> None:
    first, second = _second_payment()
    seen = replace(head_of(first), spent=first.doc.spent + 1)
    _rejects(ErrorCode.ACCEPT_CUMULATIVE_MISMATCH, second.raw, last_seen=seen)


def test_after_a_gap_prev_is_unknown_but_cumulative_must_cover_the_amount() -> None:
    first, second = _second_payment()
    third = W.payment(invoice=W.invoice(n=3), head=head_of(second))
    assert _accept(third.raw, invoice=W.invoice(n=3), last_seen=head_of(first)).head.counter == 3
    seen = replace(head_of(first), spent=third.doc.spent)
    _rejects(
        ErrorCode.ACCEPT_CUMULATIVE_MISMATCH, third.raw, invoice=W.invoice(n=3), last_seen=seen
    )
